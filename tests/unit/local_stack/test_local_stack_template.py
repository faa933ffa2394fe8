"""template.yaml loading and intrinsic resolution, and what the model reads from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_stack.model import StackModel
from local_stack.template import NO_VALUE, Template, TemplateError, load_template, sam_merge

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "integration" / "local_stack" / "fixture"

SMALL = """
Parameters:
  Stage: {Type: String, Default: dev}
  Names: {Type: CommaDelimitedList, Default: "a, b"}
  Port: {Type: Number, Default: 60}
Mappings:
  Sizes: {dev: {Memory: 256}}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
Globals:
  Function:
    Timeout: 30
    Layers: [!Ref Layer]
    Environment:
      Variables: {SHARED: one, OVERRIDDEN: global}
Resources:
  Layer: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: layers/x}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fn/
      Handler: app.handler
      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:other:3]
      Environment:
        Variables: {OVERRIDDEN: local, MEM: !FindInMap [Sizes, !Ref Stage, Memory]}
  Table: {Type: AWS::DynamoDB::Table, Properties: {TableName: !Sub "${AWS::StackName}-t"}}
  Bucket: {Type: AWS::S3::Bucket}
  ProdBucket: {Type: AWS::S3::Bucket, Condition: IsProd}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties: {Name: !Sub "${AWS::StackName}-m"}
  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET}}
"""


@pytest.fixture
def small(tmp_path: Path) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(SMALL)
    return Template.load(path)


def test_short_tags_become_their_dict_forms(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n"
        "  X:\n"
        "    Type: T\n"
        "    Properties:\n"
        "      A: !Ref Foo\n"
        "      B: !GetAtt Fn.Arn\n"
        "      C: !Sub 'x-${Foo}'\n"
        "      D: !Sub ['${a}', {a: !Ref Foo}]\n"
        "      E: !Join [',', [a, !Ref Foo]]\n"
        "      F: !If [Cond, 1, 2]\n"
        "      G: !Select [0, !Split [',', 'a,b']]\n"
        "      H: !Condition Cond\n"
        "      I: !GetAtt [Fn, Arn]\n"
    )
    props = load_template(path)["Resources"]["X"]["Properties"]
    assert props["A"] == {"Ref": "Foo"}
    assert props["B"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert props["C"] == {"Fn::Sub": "x-${Foo}"}
    assert props["D"] == {"Fn::Sub": ["${a}", {"a": {"Ref": "Foo"}}]}
    assert props["E"] == {"Fn::Join": [",", ["a", {"Ref": "Foo"}]]}
    assert props["F"] == {"Fn::If": ["Cond", 1, 2]}
    assert props["G"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert props["H"] == {"Condition": "Cond"}
    assert props["I"] == {"Fn::GetAtt": ["Fn", "Arn"]}


def test_not_a_template_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("just: text\n")
    with pytest.raises(TemplateError, match="no Resources"):
        load_template(path)


def test_parameters_defaults_overrides_and_lists(small: Template, tmp_path: Path) -> None:
    assert small.resolve({"Ref": "Stage"}) == "dev"
    assert small.resolve({"Ref": "Names"}) == ["a", "b"]
    assert small.resolve({"Ref": "Port"}) == "60"
    overridden = Template.load(tmp_path / "template.yaml", parameter_overrides={"Stage": "prod"})
    assert overridden.resolve({"Ref": "Stage"}) == "prod"
    assert overridden.condition("IsProd") is True
    assert "ProdBucket" in overridden.resources
    assert "ProdBucket" not in small.resources


def test_pseudo_parameters(small: Template) -> None:
    assert small.resolve({"Fn::Sub": "${AWS::Region}/${AWS::AccountId}/${AWS::StackName}/${AWS::Partition}"}) == (
        "us-east-1/123456789012/car-marketplace-local/aws"
    )
    assert small.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_resource_refs_and_attributes(small: Template) -> None:
    assert small.resolve({"Ref": "Fn"}) == "Fn"
    assert small.resolve({"Fn::GetAtt": ["Fn", "Arn"]}) == "arn:aws:lambda:us-east-1:123456789012:function:Fn"
    assert small.resolve({"Ref": "Table"}) == "car-marketplace-local-t"
    assert small.resolve({"Fn::GetAtt": ["Table", "Arn"]}).endswith(":table/car-marketplace-local-t")
    assert small.resolve({"Ref": "Bucket"}) == "car-marketplace-local-bucket"
    assert small.resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::car-marketplace-local-bucket"
    machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:car-marketplace-local-m"
    assert small.resolve({"Ref": "Machine"}) == machine_arn
    assert small.resolve({"Fn::GetAtt": ["Machine", "Name"]}) == "car-marketplace-local-m"
    api_id = small.resolve({"Ref": "Api"})
    assert len(api_id) == 10 and api_id.isalnum() and api_id == small.resolve({"Ref": "Api"})


def test_sub_forms(small: Template) -> None:
    assert small.resolve({"Fn::Sub": "${Fn.Arn}/x"}).endswith(":function:Fn/x")
    assert small.resolve({"Fn::Sub": "${!Literal}-${Stage}"}) == "${Literal}-dev"
    assert small.resolve({"Fn::Sub": ["${a}-${Stage}", {"a": {"Ref": "Fn"}}]}) == "Fn-dev"
    with pytest.raises(TemplateError, match="list"):
        small.resolve({"Fn::Sub": "${Names}"})


def test_functions_and_conditions(small: Template) -> None:
    assert small.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-dev"
    assert small.resolve({"Fn::If": ["IsProd", "p", "d"]}) == "d"
    assert small.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y"]}]}) == "y"
    assert small.condition("NotProd") is True
    assert small.resolve({"Fn::FindInMap": ["Sizes", "dev", "Memory"]}) == 256
    assert small.resolve({"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Ref": "AWS::NoValue"}]}) == {"B": [1]}
    assert small.resolve({"Fn::Base64": "hi"}) == "aGk="


def test_unknown_names_are_clear_errors(small: Template) -> None:
    with pytest.raises(TemplateError, match="Nope"):
        small.resolve({"Ref": "Nope"})
    with pytest.raises(TemplateError, match="Nope"):
        small.resolve({"Fn::GetAtt": ["Nope", "Arn"]})
    with pytest.raises(TemplateError, match="ImportValue"):
        small.resolve({"Fn::ImportValue": "x"})


def test_sam_globals_merge_maps_add_lists_override_scalars(small: Template) -> None:
    props = small.resolved_properties("Fn")
    assert props["Timeout"] == 30
    assert props["Environment"]["Variables"] == {"SHARED": "one", "OVERRIDDEN": "local", "MEM": 256}
    assert props["Layers"] == [
        "arn:aws:lambda:us-east-1:123456789012:layer:car-marketplace-local-Layer:1",
        "arn:aws:lambda:us-east-1:123456789012:layer:other:3",
    ]
    assert sam_merge({"a": {"Ref": "X"}}, {"a": {"Fn::Sub": "y"}}) == {"a": {"Fn::Sub": "y"}}


def test_model_of_a_small_template(small: Template, tmp_path: Path) -> None:
    model = StackModel.from_template(small, tmp_path)
    spec = model.functions["Fn"]
    assert spec.code_dir == (tmp_path / "functions" / "fn").resolve()
    assert spec.layer_dirs == ((tmp_path / "layers" / "x").resolve(),)
    assert spec.environment["MEM"] == "256"
    assert spec.timeout_s == 30
    assert spec.memory_mb == 128
    assert model.function_by_name("arn:aws:lambda:us-east-1:123456789012:function:Fn:$LATEST") is spec
    assert model.function_by_name("Fn") is spec
    assert model.function_by_name("Other") is None


def test_the_real_template_is_understood() -> None:
    template = Template.load(ROOT / "template.yaml")
    model = StackModel.from_template(template, ROOT)
    assert model.functions, "the template declares functions"
    for spec in model.functions.values():
        assert spec.code_dir.is_dir(), spec
        assert spec.handler.count(".") >= 1
    _, conflicts = model.union_environment()
    assert conflicts == [], "functions must agree on shared variables to share one process"
    route_keys = {route.route_key for route in model.http_routes}
    assert "GET /api/car/marketplace/config" in route_keys
    assert "POST /webhooks/replicate" in route_keys
    assert model.websocket is not None
    assert {"$connect", "$disconnect", "$default"} <= set(model.websocket.routes)
    assert model.websocket.route_selection_expression == "$request.body.action"
    for logical_id, _ in template.resources_of("AWS::Serverless::StateMachine"):
        substitutions = template.resolved_properties(logical_id).get("DefinitionSubstitutions") or {}
        for value in substitutions.values():
            if str(value).startswith("arn:aws:lambda"):
                assert model.function_by_name(value) is not None, value


def test_the_fixture_template_model() -> None:
    model = StackModel.from_template(Template.load(FIXTURE / "template.yaml"), FIXTURE)
    ws = model.websocket
    assert ws is not None and ws.stage == "test"
    assert ws.routes == {"$connect": "WsFunction", "$disconnect": "WsFunction", "echo": "WsFunction", "$default": "WsFunction"}
    assert [(s.function, s.expression) for s in model.schedules] == [("TickFunction", "rate(1 hour)")]
    ping = next(r for r in model.http_routes if r.path == "/ping")
    item = next(r for r in model.http_routes if r.path == "/items/{itemId}")
    assert ping.authorizer is None and item.authorizer == "Jwt"
    assert model.functions["EchoFunction"].environment["GREETING"] == "hello"
    assert model.http_apis["HttpApi"].cors["AllowOrigins"] == ["https://app.example.com"]
