"""Secrets never leave the suite: URL masking and the redactor."""

from qtask_verify.redaction import Redactor, mask_url


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql://qtask:s3cret@127.0.0.1:5433/qtask") == (
        "postgresql://qtask:***@127.0.0.1:5433/qtask"
    )


def test_mask_url_leaves_a_url_without_password_alone() -> None:
    assert mask_url("http://127.0.0.1:8001") == "http://127.0.0.1:8001"


def test_mask_url_keeps_ipv6_hosts_valid() -> None:
    assert mask_url("amqp://u:p@[::1]:5672/") == "amqp://u:***@[::1]:5672/"


def test_redactor_masks_plain_and_url_encoded_secrets() -> None:
    redact = Redactor(["p@ss word/1"])
    text = "plain p@ss word/1, quoted p%40ss%20word%2F1, plus p%40ss+word%2F1"
    assert redact(text) == "plain ***, quoted ***, plus ***"


def test_redactor_masks_passwords_of_urls_it_was_not_told_about() -> None:
    redact = Redactor()
    assert redact("cannot connect to amqp://guest:unknown@host:5672/ now") == (
        "cannot connect to amqp://guest:***@host:5672/ now"
    )


def test_redactor_masks_a_longer_secret_whole_before_a_shorter_one_inside_it() -> None:
    assert Redactor(["abc", "abcdef"])("xx abcdef yy") == "xx *** yy"


def test_redactor_ignores_empty_and_missing_secrets() -> None:
    assert Redactor(["", None])("nothing to hide") == "nothing to hide"
