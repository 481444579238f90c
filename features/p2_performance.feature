Feature: Performance baselines
  Submissions are answered quickly, tasks complete quickly end to end, a task's status is
  read quickly, and a burst of concurrent submissions is accepted at once and completed.
  Each scenario reports its median and 95th percentile against the environment's limit,
  and every task it submitted, even one only timed, must have run and left a consistent
  record.

  Background:
    Given the deployment under test
    And a Bell circuit on two qubits

  @p2 @mutating @api @performance
  Scenario: Submissions are answered within the submission time limit, and every one is run
    When I submit the circuit 10 times, one after another
    Then the 95th percentile of the submission time is within the submission time limit
    And every task submitted here ended with a consistent record

  @p2 @mutating @worker @performance
  Scenario: Tasks complete end to end within the end-to-end time limit
    When I submit the circuit 5 times and wait for each to complete
    Then the 95th percentile of the end-to-end time is within the end-to-end time limit
    And every task submitted here ended with a consistent record

  @p2 @mutating @api @performance
  Scenario: A finished task's status is read within the status read time limit
    When I submit the circuit for 1024 shots
    And the task has been processed within the processing time limit
    And I read the task's status 20 times, one after another
    Then the 95th percentile of the status read time is within the status read time limit
    And every task submitted here ended with a consistent record

  @p2 @mutating @worker @performance
  Scenario: A burst of concurrent submissions is accepted and completed
    When I submit a burst of concurrent copies of the circuit
    Then every submission of the burst is accepted within the burst acceptance time limit
    And every task of the burst completes within the burst completion time limit
    And every task submitted here ended with a consistent record
