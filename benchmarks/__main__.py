"""`make bench`: run every benchmark of the project, one after the other, each on its own stack."""

from benchmarks import service, suite


def main() -> None:
    service.main()
    suite.main()


if __name__ == "__main__":
    main()
