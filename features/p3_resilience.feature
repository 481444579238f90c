Feature: Resilience
  The deployment keeps its promises when parts of it fail: a task outlives the worker that
  was running it, waiting tasks outlive a broker restart, an outage of the database or the
  broker is reported and refused cleanly without losing anything that was accepted, and a
  burst of concurrent tasks is completed exactly once each. Most of these scenarios stop,
  kill or restart parts of the deployment, so they run only where the profile allows disruption
  and a deployment controller is configured, never in production, and always start again what
  they stopped.

  Background:
    Given the deployment under test

  @p3 @mutating @disruptive @needs_controller @worker
  Scenario: A task outlives the worker killed while running it
    Given a circuit that keeps a worker busy for a few seconds
    When I submit the circuit for 2000 shots
    And the workers are killed while the task is running
    And the workers are started again
    Then the task completes within the recovery time limit
    And every task was completed exactly once
    And its measurement counts sum to 2000 shots

  @p3 @mutating @disruptive @needs_controller @queue
  Scenario: Waiting tasks outlive a broker restart
    Given the workers are stopped
    And a Bell circuit on two qubits
    When I submit 5 copies of the circuit
    And the broker is restarted while the tasks wait in the task queue
    And the workers are started again
    Then every task completes within the recovery time limit
    And every task was completed exactly once

  @p3 @mutating @disruptive @needs_controller @database
  Scenario: A database outage is reported, refused cleanly and recovered from
    Given a Bell circuit on two qubits
    When the database is stopped
    Then the API reports itself unhealthy, naming the database
    And a submission is refused cleanly as a dependency outage
    When the database is started again
    Then the API reports itself healthy within the recovery time limit
    And the refused submissions left no task behind
    And a new submission completes within the processing time limit

  @p3 @mutating @disruptive @needs_controller @queue
  Scenario: No submission is silently lost while the broker is down
    Given a Bell circuit on two qubits
    When the broker is stopped
    Then the API reports itself unhealthy, naming the queue
    When I submit 5 copies of the circuit while it is down
    Then each of them is either accepted or refused cleanly as a dependency outage
    When the broker is started again
    Then every task completes within the recovery time limit
    And the refused submissions left no task behind

  @p3 @mutating @worker
  Scenario: Concurrent tasks are each completed exactly once
    Given a Bell circuit on two qubits
    When I submit 20 copies of the circuit at once
    Then every copy is accepted with its own task id
    And every task completes within the burst completion time limit
    And every task was completed exactly once
