Feature: Database schema
  The database is migrated to the expected revision and holds tasks and their status
  history in the shape the contract describes, with the indexes that keep lookups fast.
  What the contract leaves open is matched by structure, not by name: the enum type that
  holds the statuses, the names of the indexes and of the foreign key, the type of the
  history's key. Extra columns are allowed.

  Background:
    Given the deployment under test

  @p2 @read_only @database
  Scenario: The database is migrated to the expected revision
    Then the database is at the expected migration revision

  @p2 @read_only @database
  Scenario: The tasks table has the contract's columns
    Then the table "tasks" has these columns:
      | column         | type                     |
      | task_id        | uuid                     |
      | circuit        | text                     |
      | shots          | integer                  |
      | current_status | the task status type     |
      | submitted_at   | timestamp with time zone |
      | started_at     | timestamp with time zone |
      | completed_at   | timestamp with time zone |
      | result         | jsonb                    |
      | error_message  | text                     |
    And the table "tasks" is identified by "task_id"

  @p2 @read_only @database
  Scenario: The status history table has the contract's columns
    Then the table "status_history" has these columns:
      | column          | type                     |
      | id              | an integer or uuid key   |
      | task_id         | uuid                     |
      | status          | the task status type     |
      | transitioned_at | timestamp with time zone |
      | notes           | text                     |
    And the table "status_history" is identified by "id"

  @p2 @read_only @database
  Scenario: A task's status is one of the four contract statuses
    Then the task status type has exactly the expected statuses

  @p2 @read_only @database
  Scenario: Tasks and their history have the expected indexes
    Then every expected index exists on its table and columns

  @p2 @read_only @database
  Scenario: A status history entry belongs to a task and goes with it
    Then status history entries are tied to their task by the expected foreign key
    And a task's status history is deleted together with the task
