"""Adapters own every outside system: boto3 (DynamoDB, SQS, S3, EventBridge), Playwright and outgoing HTTP."""
