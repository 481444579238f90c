Feature: Task queue
  The task queue outlives broker restarts, sends messages it cannot deliver to a
  dead-letter queue, has no setting that drops or expires a waiting task, is consumed by
  enough workers, which acknowledge the message of every task they finish, and gets each
  task's message as a persistent one, which it hands to a worker.
  What is published and delivered is seen through the broker's message tracing, where the
  profile allows it; without it, that scenario is skipped and says so.

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

  @p2 @mutating @worker
  Scenario: Workers acknowledge the message of every task they finish
    Given a Bell circuit on two qubits
    When I submit the circuit for 1024 shots
    And the task has been processed within the processing time limit
    Then no message of a finished task is left unacknowledged in the task queue

  @p2 @mutating @needs_tracing @queue
  Scenario: A task's message is published persistent to the task queue and delivered to a worker
    Given a Bell circuit on two qubits
    When I submit the circuit for 1024 shots
    Then the broker saw the task's message published as persistent to the task queue
    And the broker saw the task's message delivered from the task queue to a worker
