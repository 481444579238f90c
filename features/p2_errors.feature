Feature: Refusing bad requests
  Invalid requests are refused with details that name the invalid field as data (a key,
  a field's name or path, not only a sentence mentioning it) and leave nothing behind: no
  row, and no message, as the broker's message tracing shows where it is allowed. Unknown
  or malformed task ids are answered cleanly; a circuit that cannot be executed is accepted
  and then fails with a message.

  Background:
    Given the deployment under test

  @p2 @mutating @api
  Scenario Outline: An invalid submission is refused and stores nothing
    When I submit <request>
    Then the submission is refused as invalid, naming "<field>"
    And no task was stored for it

    Examples:
      | request                                     | field |
      | a task without a circuit                    | qc    |
      | a task with an empty circuit                | qc    |
      | a task whose circuit is a number            | qc    |
      | a task with zero shots                      | shots |
      | a task with more shots than allowed         | shots |
      | a task with a negative number of shots      | shots |
      | a task whose shots are not a whole number   | shots |
      | a task larger than the allowed request size | body  |

  @p2 @mutating @api
  Scenario: A request that is not valid JSON is refused and stores nothing
    When I submit a request body that is not valid JSON
    Then the submission is refused as invalid with details
    And no task was stored for it

  @p2 @mutating @needs_tracing @api
  Scenario: No task message is published for a refused submission
    When I send every kind of invalid submission
    Then the broker saw no task message published for any of them

  @p2 @read_only @api
  Scenario: An unknown task is reported as not found
    When I ask for a task that does not exist
    Then the API answers that the task was not found

  @p2 @read_only @api
  Scenario: A malformed task id is refused without a server error
    When I ask for a task with a malformed id
    Then the API refuses the id as invalid or unknown

  @p2 @mutating @worker
  Scenario: A circuit that cannot be parsed is accepted and then fails with a message
    Given a circuit that is not valid OpenQASM 3
    When I submit the circuit for 100 shots
    And the task has been processed within the processing time limit
    Then the task has failed with an error message
    And every task submitted here ended with a consistent record
