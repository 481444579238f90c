Feature: Known answers
  A deployment must give every task the right answer: the outcomes its own circuit measures, for
  the number of shots it asked for. Each circuit here has an outcome distribution known exactly,
  chosen to expose what a Bell pair cannot: the order of the bits in an outcome (the rightmost
  bit is qubit 0, so flipping qubit 0 of two measures 01), several classical registers joined
  into one outcome (the last-declared register leftmost, no spaces), the number of shots, and a
  result written to another task. Every outcome is as wide as the circuit's classical bits, and
  the counts add up to the shots.
  
  A circuit with one possible outcome must measure it in every shot. A circuit with several is
  judged by an exact binomial test: the count of an outcome of probability p over n shots is
  binomial, and it fails only when it lies in a tail of that distribution holding at most a
  share of one in a million; the shares add up to one in a million for the whole check. So a
  correct deployment fails a check at most once in a million runs (computed exactly: 0.99 in a
  million for the GHZ state over 4096 shots), while a count off by a few percent of the shots
  fails. An outcome the circuit never gives fails at once.

  Background:
    Given the deployment under test

  @p1 @mutating @worker
  Scenario Outline: A circuit with <circuit> measures <outcome> in every shot
    Given the known-answer circuit "<circuit>"
    When I submit the circuit for <shots> shots
    And the task has been processed within the processing time limit
    Then the task completed with counts that add up to <shots> shots
    And every measured outcome is as wide as the circuit's classical bits
    And <outcome> is measured in every shot

    Examples:
      | circuit                         | shots | outcome |
      | qubit 0 of two flipped          | 1000  | 01      |
      | qubits 1 and 2 of three flipped | 1     | 110     |
      | two classical registers         | 4096  | 1101    |

  @p1 @mutating @worker
  Scenario Outline: A circuit with <circuit> measures <shares> of the shots
    Given the known-answer circuit "<circuit>"
    When I submit the circuit for <shots> shots
    And the task has been processed within the processing time limit
    Then the task completed with counts that add up to <shots> shots
    And every measured outcome is as wide as the circuit's classical bits
    And the outcomes occur in the shares <shares> within the statistical bound

    Examples:
      | circuit                          | shots | shares                 |
      | a GHZ state on three qubits      | 4096  | 000 in 1/2, 111 in 1/2 |
      | a rotation of one chance in four | 1000  | 0 in 3/4, 1 in 1/4     |

  @p1 @mutating @worker
  Scenario: Concurrent tasks of different circuits each get their own answer
    When I submit these circuits all at once
      | circuit                          | shots |
      | qubit 0 of two flipped           | 1000  |
      | qubit 0 of two flipped           | 3     |
      | qubits 1 and 2 of three flipped  | 4096  |
      | two classical registers          | 500   |
      | a GHZ state on three qubits      | 2048  |
      | a rotation of one chance in four | 1024  |
    And every task has been processed within the processing time limit
    Then each task measured its own circuit's known answer for its own number of shots
