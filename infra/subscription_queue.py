"""`SubscriptionQueue`: the queue that feeds one agent one topic, and its one DLQ."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from soorma_common import naming
from soorma_common.delivery import DLQ_RETENTION_SECONDS, MAX_RECEIVE_COUNT
from soorma_common.topics import EventTopic


class SubscriptionQueue(Construct):
    """`soorma-<stage>-<agent>-<topic>` and its DLQ `...-dlq`.

    Both use SQS-managed encryption (EventBridge cannot use `alias/aws/sqs`) and a TLS-only
    queue policy; the queue redrives to the DLQ after `MAX_RECEIVE_COUNT` receives and the DLQ
    keeps dead letters `DLQ_RETENTION_SECONDS` (14 days). The DLQ also receives the rule's
    delivery failures and the runtime's permanent errors. With `retain`, both outlive the stack
    (production stages: dead letters are evidence, like the tables' data).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        agent: str,
        topic: EventTopic,
        visibility_timeout: Duration,
        retain: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = topic
        self.queue_name = naming.queue_name(stage, agent, topic)
        self.dead_letter_queue_name = naming.dead_letter_queue_name(self.queue_name)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=self.dead_letter_queue_name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.seconds(DLQ_RETENTION_SECONDS),
            removal_policy=removal,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=self.queue_name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
            removal_policy=removal,
        )
