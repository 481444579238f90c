Feature: Deployment health
  Before the deployment takes work, every part of it answers: the API says it is
  healthy, the database and the broker respond, and workers listen on the task queue.

  Background:
    Given the deployment under test

  @p1 @read_only @api
  Scenario: The API reports itself healthy with both dependencies connected
    When I ask the API for its health
    Then it answers healthy within the health time limit
    And it reports the database as connected
    And it reports the queue as connected

  @p1 @read_only @database
  Scenario: The database answers queries
    When I send the database a query
    Then the database answers within the health time limit

  @p1 @read_only @queue
  Scenario: The broker answers and holds the task queue
    When I look up the task queue on the broker
    Then the task queue exists

  @p1 @read_only @worker
  Scenario: At least one worker consumes the task queue
    When I count the consumers of the task queue
    Then at least one worker consumes it
