"""The operator's commands against a real account: `pushgate status|history|replay|redrive|explain`.

boto3 finds credentials, profile and region the AWS way (`--profile`/`AWS_PROFILE`, `--region`/
`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`), falling back to the region samconfig.toml deploys the
environment to. Every name comes from the CloudFormation stack's outputs (`account`); each
failure an operator meets is one line (`errors`).

- `account`: the session, the stack and its outputs, botocore errors mapped to one line each.
- `runs`: the state machine's executions as deploy outcomes.
- `commands`: what each command does (typed results, no printing).
- `cli`: the argparse sub-commands and their rendering.
"""
