# Runs one probe on a schedule, AWS-native: EventBridge Scheduler starts one ECS Fargate task per tick from the
# project's image (Dockerfile: the probe files baked in at /etc/probe/probes); the task runs
# `probe --probe <name> --format emf` once and exits with the verdict's code. The task keeps no state: its
# one EMF document goes to the awslogs group, where CloudWatch Logs extracts the metrics (any EMF line that
# reaches CloudWatch Logs is parsed, aws-embedded-metrics-python#73), and modules/probe-alarms pages on them.
# With --tick-table a second start of the same tick exits before it sends. Optional: a probe host with cron
# or `probe monitor` does the same job.

locals {
  command = concat(
    ["--probe", var.probe, "--probes", "/etc/probe/probes", "--format", "emf"],
    var.tick_table_name == null ? [] : ["--tick-table", var.tick_table_name],
    var.extra_args,
  )
}

data "aws_region" "current" {}

data "aws_partition" "current" {}

resource "aws_ecs_cluster" "probe" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "probe" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Execution role: pull the image, write the task's log group, read the secrets the task gets as environment
# variables — what AmazonECSTaskExecutionRolePolicy grants, scoped to this task (ECS Developer Guide "Amazon
# ECS task execution IAM role").
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

locals {
  # An image in ECR (<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag|@digest]) is pulled with the
  # execution role; any other registry (public, ghcr.io) needs no permission.
  ecr = regex("^(?:(?P<account>[0-9]{12})\\.dkr\\.ecr\\.(?P<region>[a-z0-9-]+)\\.amazonaws\\.com/(?P<repository>[^:@]+))?", var.image)
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.probe.arn}:*"]
  }

  dynamic "statement" {
    for_each = local.ecr.repository == null ? [] : [1]
    content {
      sid       = "PullImage"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
      resources = ["arn:${data.aws_partition.current.partition}:ecr:${local.ecr.region}:${local.ecr.account}:repository/${local.ecr.repository}"]
    }
  }

  # GetAuthorizationToken has no resource-level permission: AWS only accepts "*" for it.
  dynamic "statement" {
    for_each = local.ecr.repository == null ? [] : [1]
    content {
      sid       = "RegistryLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

data "aws_iam_policy_document" "execution_secrets" {
  count = length(var.secrets) > 0 ? 1 : 0

  statement {
    actions   = ["secretsmanager:GetSecretValue", "ssm:GetParameters"]
    resources = values(var.secrets)
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  count  = length(var.secrets) > 0 ? 1 : 0
  name   = "secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets[0].json
}

resource "aws_ecs_task_definition" "probe" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = var.task_role_arn

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = "probe"
    image                  = var.image
    command                = local.command
    essential              = true
    readonlyRootFilesystem = true
    # The probe writes nothing outside /tmp (Dockerfile); /tmp is the task's ephemeral storage.
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    secrets     = [for k, v in var.secrets : { name = k, valueFrom = v }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.probe.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "probe"
      }
    }
  }])
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

# The scheduler may start exactly this task definition and hand it exactly its two roles.
data "aws_iam_policy_document" "scheduler" {
  statement {
    actions   = ["ecs:RunTask"]
    resources = [aws_ecs_task_definition.probe.arn_without_revision, "${aws_ecs_task_definition.probe.arn_without_revision}:*"]
    condition {
      test     = "ArnLike"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.probe.arn]
    }
  }

  statement {
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn, var.task_role_arn]
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "run-probe-task"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "probe" {
  #checkov:skip=CKV_AWS_297:the schedule holds no secret (a task ARN and network ids); a CMK is used when kms_key_arn is set
  name                = var.name
  schedule_expression = var.schedule_expression
  kms_key_arn         = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.probe.arn
    role_arn = aws_iam_role.scheduler.arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.probe.arn_without_revision
      launch_type         = "FARGATE"
      task_count          = 1

      network_configuration {
        subnets          = var.subnet_ids
        security_groups  = var.security_group_ids
        assign_public_ip = false
      }
    }

    # A missed tick is not retried: the next scheduled run is the retry, and a late duplicate run would
    # spend the test user's trigger budget.
    retry_policy {
      maximum_retry_attempts = 0
    }
  }
}
