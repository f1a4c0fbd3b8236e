#!/bin/sh
# One-shot MinIO setup (compose service `minio-setup`, Kubernetes Job `minio-setup`), safe to re-run:
# the bucket, a lifecycle rule that aborts incomplete multipart uploads after a day, and the application's
# own user whose policy reaches that bucket only. The root credentials never leave this job and MinIO.
set -eu
endpoint=${MINIO_ENDPOINT:-http://minio:9000}
bucket=${EMSYNC_S3_BUCKET:-emsync}
here=$(dirname "$0")
mc alias set root "$endpoint" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "root/$bucket"
mc ilm import "root/$bucket" < "$here/lifecycle.json"
sed "s/arn:aws:s3:::emsync/arn:aws:s3:::$bucket/g" "$here/emsync-app-policy.json" > /tmp/emsync-app-policy.json
mc admin policy create root emsync-app /tmp/emsync-app-policy.json   # creates or replaces
mc admin user add root "$EMSYNC_S3_ACCESS_KEY" "$EMSYNC_S3_SECRET_KEY"
# On a re-run the policy is already attached, which mc reports as an error: that state is the goal.
mc admin policy attach root emsync-app --user "$EMSYNC_S3_ACCESS_KEY" || true
echo "minio-setup: bucket $bucket, lifecycle rule, user $EMSYNC_S3_ACCESS_KEY with policy emsync-app"
