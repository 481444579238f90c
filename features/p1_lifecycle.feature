Feature: Task lifecycle
  A submitted circuit is stored, queued, executed by a worker, and its result is kept,
  with every status change recorded. The Bell circuit entangles two qubits, so a correct
  execution only ever measures 00 or 11, each in about half of the shots.

  Background:
    Given the deployment under test
    And a Bell circuit on two qubits

  @p1 @mutating @api
  Scenario: A submitted circuit is accepted with a task id
    When I submit the circuit for 1024 shots
    Then the submission is accepted with a task id

  @p1 @mutating @database
  Scenario: A submitted task is stored with the exact circuit
    When I submit the circuit for 1024 shots
    Then the database holds the task with the exact circuit and 1024 shots
    And its first recorded status is pending

  @p1 @mutating @worker
  Scenario: A Bell circuit completes with valid measurement counts
    When I submit the circuit for 1024 shots
    And the task has been processed within the processing time limit
    Then the task is completed
    And every measured bitstring is 2 bits wide
    And the counts sum to 1024 shots
    And only the outcomes 00 and 11 are measured
    And each outcome occurs in half of the shots within the statistical bound of a fair coin

  @p1 @mutating @database
  Scenario: Every status change is recorded in order, and the task's timestamps agree
    When I submit the circuit for 1024 shots
    And the task has been processed within the processing time limit
    Then its recorded history is pending, processing, completed
    And the recorded history is in chronological order
    And every task submitted here ended with a consistent record

  @p1 @mutating @api
  Scenario: The API reports the task exactly as the database stores it
    When I submit the circuit for 1024 shots
    And the task has been processed within the processing time limit
    Then the API's view of the task equals the database's
