# The reference service's image: API, worker and migration share it (different commands).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install '.[service]' && useradd --system --uid 10001 qtask
USER qtask

EXPOSE 8001
CMD ["python3", "-m", "qtask_service.api"]
