Feature: A deployment in service
  What can be verified of a deployment that real users rely on, without submitting or
  changing anything: their recent tasks finish, none is left waiting or running for far
  too long, and the dead-letter queue is not filling up.

  Background:
    Given the deployment under test

  @p1 @read_only @live_traffic @worker
  Scenario: Recent real tasks finish within the processing time limit
    When I look at the real tasks submitted recently
    Then every one that had the processing time limit to finish has finished
    And not every one of them failed

  @p1 @read_only @worker
  Scenario Outline: No real task stays <status> for longer than the stuck-task limit
    When I look for real tasks <status> for longer than the stuck-task limit
    Then there is none

    Examples:
      | status     |
      | pending    |
      | processing |

  @p1 @read_only @queue
  Scenario: The dead-letter queue is not growing
    When I look at how the dead-letter queue grew over the recent window
    Then no message was dead-lettered in that window
