"""RabbitMQ side of the service: topology, the API's publisher, the reconnecting link."""
