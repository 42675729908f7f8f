"""The snapshot taken before a destructive schema change (issue 12).

- `naming`: the snapshot's identifier (service, digest prefix, time; at most 63 characters) and
  the tags that make it pushgate's, computed by check_database for the definition's
  createDBSnapshot / createDBClusterSnapshot task;
- `store`: RDS's snapshots of one instance or one cluster, read and deleted through boto3;
- `policy`: what the run does with them: wait until the new one is available (bounded), and
  prune pushgate's own beyond `KeepSnapshots` after a successful deploy, never anyone else's.
"""
