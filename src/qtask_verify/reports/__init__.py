"""The suite's reports: HTML, JSON, JUnit XML, Cucumber JSON and the run record, all redacted.

Loaded into pytest by the CLI with `-p qtask_verify.reports.plugin`.
"""
