# At most one send per tick. EventBridge Scheduler delivers at least once, and a Lambda or task may be started
# twice for one scheduled time; every mail the probe triggers spends the test user's budget and can page. The
# probe writes "<probe>#<tick RFC 3339>" into this table with a conditional PutItem
# (attribute_not_exists(pk)) before it triggers anything; a second run of the same tick finds the item, exits
# 0 without mail and without an EMF line. Items expire through the table's TTL (expires_at, epoch seconds).

resource "aws_dynamodb_table" "ticks" {
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  # The items are disposable (a lost item can at worst let one duplicate tick send once more), but recovery
  # costs little at one item per run.
  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}
