"""Probe for test_localcloud_patches: DynamoDB, SQS and EventBridge calls on `mock_aws`,
with moto patched (`patched`) or not (`plain`); prints the results as one JSON line."""

import json
import sys

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

if sys.argv[1] == "patched":
    from soorma_dev.localcloud.moto_patches import apply_all

    apply_all()

out = []


def call(label, fn, **kwargs):
    try:
        response = fn(**kwargs)
        response.pop("ResponseMetadata", None)
        out.append([label, "ok", response])
    except ClientError as exc:
        error = exc.response.get("Error", {})
        out.append(
            [label, "error", error.get("Code"), error.get("Message"), exc.response.get("Item")]
        )
    except Exception as exc:  # moto's own bugs surface as exceptions in-process
        out.append([label, "raised", type(exc).__name__, str(exc)])


with mock_aws():
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    claim = (
        "attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND "
        "attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)"
    )
    names = {
        "#id": "pk",
        "#expiry": "expiration",
        "#in_progress_expiry": "ipe",
        "#status": "status",
    }
    for round_ in range(3):
        for now in (100, 200, 50):
            call(
                "claim",
                ddb.put_item,
                TableName="t",
                Item={
                    "pk": {"S": "k"},
                    "sk": {"S": str(round_)},
                    "expiration": {"N": str(now + 10)},
                    "status": {"S": "INPROGRESS"},
                    "ipe": {"N": str(now * 1000 + 5)},
                },
                ConditionExpression=claim,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":now": {"N": str(now)},
                    ":now_in_millis": {"N": str(now * 1000)},
                    ":inprogress": {"S": "INPROGRESS"},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        conditions = [
            (
                "#a BETWEEN :lo AND :hi",
                {"#a": "n"},
                {":lo": {"N": "1"}, ":hi": {"N": str(5 + round_)}},
            ),
            (
                "#a IN (:x, :y) AND NOT begins_with(#b, :p)",
                {"#a": "n", "#b": "s"},
                {":x": {"N": "3"}, ":y": {"N": str(round_)}, ":p": {"S": "zz"}},
            ),
            (
                "size(#b) > :n OR contains(#l, :v)",
                {"#b": "s", "#l": "l"},
                {":n": {"N": str(round_)}, ":v": {"S": "b"}},
            ),
            ("attribute_type(#m.#k, :t)", {"#m": "m", "#k": "k"}, {":t": {"S": "S"}}),
            ("#a = :missing", {"#a": "n"}, {":other": {"N": "1"}}),
            ("#a = :v", {"#a": "n", "#unused": "x"}, {":v": {"N": "3"}}),
            ("((#a = :v))", {"#a": "n"}, {":v": {"N": "3"}}),
            ("#a == :v", {"#a": "n"}, {":v": {"N": "3"}}),
            ("size = :v", None, {":v": {"N": "3"}}),
            ("#l[1] = :v", {"#l": "l"}, {":v": {"S": "b"}}),
        ]
        for i, (expression, attr_names, values) in enumerate(conditions):
            kwargs = {"ExpressionAttributeValues": values}
            if attr_names:
                kwargs["ExpressionAttributeNames"] = attr_names
            if round_:  # rounds 1 and 2 check the condition against an existing item
                ddb.put_item(
                    TableName="t",
                    Item={
                        "pk": {"S": "c"},
                        "sk": {"S": str(i)},
                        "n": {"N": "3"},
                        "s": {"S": "abc"},
                        "l": {"L": [{"S": "a"}, {"S": "b"}]},
                        "m": {"M": {"k": {"S": "v"}}},
                    },
                )
            call(
                f"put-if-{i}",
                ddb.put_item,
                TableName="t",
                Item={
                    "pk": {"S": "c"},
                    "sk": {"S": str(i)},
                    "n": {"N": "3"},
                    "s": {"S": "abc"},
                    "l": {"L": [{"S": "a"}, {"S": "b"}]},
                    "m": {"M": {"k": {"S": "v"}}},
                },
                ConditionExpression=expression,
                **kwargs,
            )
            call(
                f"put-again-{i}",
                ddb.put_item,
                TableName="t",
                Item={
                    "pk": {"S": "c"},
                    "sk": {"S": str(i)},
                    "n": {"N": str(round_)},
                    "s": {"S": "zzz"},
                    "l": {"L": [{"S": "b"}]},
                    "m": {"M": {"k": {"N": "1"}}},
                },
                ConditionExpression=expression,
                **kwargs,
            )
        updates = [
            (
                "SET #r = :r, #e = :e, #s = :s",
                {"#r": "data", "#e": "expiration", "#s": "status"},
                {":r": {"S": "{}"}, ":e": {"N": str(round_)}, ":s": {"S": "COMPLETED"}},
            ),
            (
                "SET #c = if_not_exists(#c, :zero) + :one ADD #set :v REMOVE #gone",
                {"#c": "count", "#set": "tags", "#gone": "data"},
                {":zero": {"N": "0"}, ":one": {"N": "1"}, ":v": {"SS": [f"t{round_}"]}},
            ),
            (
                "SET #l = list_append(if_not_exists(#l, :empty), :more), #m.#k = :v",
                {"#l": "items", "#m": "map", "#k": "key"},
                {":empty": {"L": []}, ":more": {"L": [{"N": str(round_)}]}, ":v": {"S": "x"}},
            ),
            ("SET #a = :v", {"#a": "pk"}, {":v": {"S": "new"}}),
            ("SET #a = :v, #a = :w", {"#a": "n"}, {":v": {"N": "1"}, ":w": {"N": "2"}}),
            ("SET #a = :missing", {"#a": "n"}, {":v": {"N": "1"}}),
            ("SET #a :v", {"#a": "n"}, {":v": {"N": "1"}}),
            ("DELETE #set :v", {"#set": "tags"}, {":v": {"SS": ["t0"]}}),
        ]
        for i, (expression, attr_names, values) in enumerate(updates):
            call(
                f"update-{i}",
                ddb.update_item,
                TableName="t",
                Key={"pk": {"S": "u"}, "sk": {"S": "1"}},
                UpdateExpression=expression,
                ExpressionAttributeNames=attr_names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        call(
            "update-conditional",
            ddb.update_item,
            TableName="t",
            Key={"pk": {"S": "u"}, "sk": {"S": "1"}},
            UpdateExpression="SET #s = :s",
            ConditionExpression="#s <> :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": f"S{round_ % 2}"}},
            ReturnValues="UPDATED_OLD",
        )
        call(
            "transact",
            ddb.transact_write_items,
            TransactItems=[
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "x"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET #v = :v",
                        "ConditionExpression": "attribute_not_exists(#v) OR #v < :v",
                        "ExpressionAttributeNames": {"#v": "version"},
                        "ExpressionAttributeValues": {":v": {"N": str(2 - round_)}},
                    }
                }
            ],
        )
        call(
            "query",
            ddb.query,
            TableName="t",
            KeyConditionExpression="pk = :p",
            FilterExpression="#n >= :n OR attribute_exists(#m)",
            ExpressionAttributeNames={"#n": "n", "#m": "m"},
            ExpressionAttributeValues={":p": {"S": "c"}, ":n": {"N": str(round_)}},
        )
        call("scan", ddb.scan, TableName="t")

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    handles = [m["ReceiptHandle"] for m in first + second]
    out.append(["handles", sorted({(len(h), h.isalpha() and h.islower()) for h in handles})])
    call(
        "delete-old-handle",
        sqs.delete_message,
        QueueUrl=url,
        ReceiptHandle=first[0]["ReceiptHandle"],
    )
    call("delete-again", sqs.delete_message, QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    call("delete-unknown", sqs.delete_message, QueueUrl=url, ReceiptHandle="nope")
    call(
        "delete-batch",
        sqs.delete_message_batch,
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": second[1]["ReceiptHandle"]},
            {"Id": "b", "ReceiptHandle": "bad"},
        ],
    )
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    out.append(["left", left["Attributes"]])

    events = boto3.client("events", region_name="us-east-1")
    target = sqs.create_queue(QueueName="target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=target, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="r", EventPattern=json.dumps({"detail-type": ["t"]}))
    events.put_rule(Name="other", EventPattern=json.dumps({"detail-type": ["nope"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "1", "Arn": arn}])
    events.put_events(
        Entries=[
            {"Source": "s", "DetailType": "t", "Detail": json.dumps({"n": i})} for i in range(3)
        ]
    )
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=target, MaxNumberOfMessages=10)["Messages"]
    ]
    out.append(
        [
            "events",
            sorted(
                (
                    json.dumps(
                        {k: v for k, v in b.items() if k not in ("id", "time")}, sort_keys=True
                    ),
                    type(b["time"]).__name__,
                )
                for b in bodies
            ),
        ]
    )

print(json.dumps(out, sort_keys=True, default=str))
