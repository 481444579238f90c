Feature: Task queue
  The task queue outlives broker restarts, sends messages it cannot deliver to a
  dead-letter queue, has no setting that drops or expires a waiting task, is consumed by
  enough workers, and keeps its messages on disk.

  Background:
    Given the deployment under test

  @p2 @read_only @queue
  Scenario: The task queue survives a broker restart
    When I look up the task queue on the broker
    Then the task queue is durable
    And the task queue is not deleted when its last consumer leaves

  @p2 @read_only @queue
  Scenario: Rejected messages go to the dead-letter queue
    When I look up the task queue on the broker
    Then the task queue dead-letters to the expected exchange and routing key
    And the dead-letter exchange routes to a durable dead-letter queue

  @p2 @read_only @queue
  Scenario: No queue setting drops or expires a waiting task
    When I look up the task queue on the broker
    Then no policy or argument of the task queue can drop or expire a waiting task

  @p2 @read_only @worker
  Scenario: Enough workers consume the task queue
    When I count the consumers of the task queue
    Then at least the expected number of workers consume it

  @p2 @mutating @disruptive @needs_controller @queue
  Scenario: A waiting task message is kept on disk
    Given the workers are paused
    And a Bell circuit on two qubits
    When I submit the circuit for 1024 shots
    Then the task's message waits in the task queue as a persistent message
