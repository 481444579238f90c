Feature: Older clients
  Clients written before the circuit's field was named qc still send it as circuit. The
  contract accepts that older name as an alias of qc, so such a task is accepted, stored
  exactly as sent and run like any other.

  Background:
    Given the deployment under test
    And a Bell circuit on two qubits

  @p2 @mutating @api
  Scenario: A circuit sent under its older field name is accepted, stored exactly and completed
    When I submit the circuit for 100 shots under its older field name
    Then the submission under the older field name is accepted with a task id
    And the task is stored with exactly the circuit sent and 100 shots
    And the task completes within the processing time limit
    And every task submitted here ended with a consistent record
