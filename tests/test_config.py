"""Config as code: ``apply_config`` / ``export_config`` against the real database."""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from catalog import config
from catalog.config import registry
from catalog.models import (
    CohortAttribute,
    Deployment,
    Environment,
    Feature,
    Model,
    ModelVersion,
    System,
    SystemGroupObjectPermission,
    SystemUserObjectPermission,
    Team,
)
from healthboard import access
from healthboard.audit import verify_chain
from healthboard.models import AuditRecord
from tests.factories import (
    CohortAttributeFactory,
    DeploymentFactory,
    EnvironmentFactory,
    FeatureFactory,
    ModelFactory,
    ModelVersionFactory,
    SystemFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parent.parent / "catalog" / "fixtures" / "sample_config.yaml"
COUNTED = (
    Team,
    Group,
    System,
    Model,
    ModelVersion,
    Environment,
    Deployment,
    Feature,
    CohortAttribute,
    SystemGroupObjectPermission,
    SystemUserObjectPermission,
    AuditRecord,
)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def apply(path, *args) -> str:
    out = io.StringIO()
    call_command("apply_config", str(path), *args, stdout=out)
    return out.getvalue()


def export(tmp_path, name="export.yaml") -> Path:
    target = tmp_path / name
    call_command("export_config", "-o", str(target), stderr=io.StringIO())
    return target


def write(tmp_path, text: str, name="config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the first line containing ``needle``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# -- applying the sample ---------------------------------------------------------------------
def test_sample_applies_and_a_second_run_changes_nothing():
    first = apply(SAMPLE)
    assert "Applied" in first
    assert Team.objects.count() == 2
    assert sorted(System.objects.values_list("slug", flat=True)) == [
        "credit-risk",
        "fraud-scoring",
        "search-ranking",
    ]
    scorer = Model.objects.get(system__slug="credit-risk", slug="scorer")
    assert [(f.name, f.type, f.position) for f in scorer.features.order_by("position")] == [
        ("income", "numeric", 0),
        ("debt_to_income", "numeric", 1),
        ("credit_history_months", "numeric", 2),
        ("open_accounts", "numeric", 3),
        ("region", "categorical", 4),
        ("employment_type", "categorical", 5),
    ]
    assert dict(scorer.cohorts.values_list("name", "protected")) == {
        "sex": True,
        "age_band": True,
        "channel": False,
    }
    assert Model.objects.get(slug="ranker").task == "regression"
    edge = Environment.objects.get(system__slug="credit-risk", slug="edge")
    assert (edge.kind, edge.region) == ("edge", "eu-west-1")
    assert Environment.objects.get(system__slug="credit-risk", slug="staging").kind == "staging"
    canary = Deployment.objects.get(environment=edge)
    assert (canary.model_version.version, canary.status) == ("2.3.0", "canary")

    before = counts()
    second = apply(SAMPLE)
    assert second.strip() == f"No changes: the database already matches {SAMPLE}."
    assert counts() == before


def test_every_change_writes_an_audit_record_with_source_config():
    out = apply(SAMPLE)
    planned = int(re.search(r"Plan for .*: (\d+) changes", out).group(1))
    records = AuditRecord.objects.order_by("seq")
    assert records.count() == planned
    assert {r.source for r in records} == {"config"}
    assert {r.reason for r in records} == {f"apply_config {SAMPLE}"}
    assert {"team.create", "system.create", "feature.create", "deployment.create", "access.grant"} <= {
        r.action for r in records
    }
    system_record = records.get(action="system.create", object_repr="Credit risk scoring")
    assert system_record.after["criticality"] == "high"
    assert verify_chain() is None


def test_a_change_is_planned_applied_and_audited_with_its_diff(tmp_path):
    apply(SAMPLE)
    changed = write(tmp_path, SAMPLE.read_text().replace("criticality: high", "criticality: critical", 1))
    audit_before = AuditRecord.objects.count()
    out = apply(changed)
    assert "~ update system credit-risk: criticality 'high' → 'critical'" in out
    assert "Plan for" in out and ": 1 change\n" in out
    assert System.objects.get(slug="credit-risk").criticality == "critical"
    record = AuditRecord.objects.get(seq=audit_before + 1)
    assert (record.action, record.source) == ("system.update", "config")
    assert record.diff == {"criticality": ["high", "critical"]}
    assert AuditRecord.objects.count() == audit_before + 1


def test_actor_option_names_the_user_on_audit_records(tmp_path):
    admin = UserFactory(username="ops-admin")
    apply(SAMPLE, "--actor", "ops-admin")
    assert set(AuditRecord.objects.values_list("actor_id", flat=True)) == {admin.id}


def test_dry_run_prints_the_plan_and_changes_nothing():
    before = counts()
    out = apply(SAMPLE, "--dry-run")
    assert "+ create system credit-risk" in out
    assert "Dry run: nothing was applied." in out
    assert counts() == before


# -- round trips ----------------------------------------------------------------------------
def test_apply_export_apply_is_a_no_op(tmp_path):
    apply(SAMPLE)
    exported = export(tmp_path)
    before = counts()
    out = apply(exported)
    assert "No changes" in out
    assert "left as is" not in out
    assert counts() == before  # includes AuditRecord: no new records
    # Deterministic: exporting again gives the same bytes.
    assert export(tmp_path, "again.yaml").read_text() == exported.read_text()


def test_export_of_a_hand_made_database_applies_as_a_no_op(tmp_path):
    """Data not made by a config file (factories, the admin, ingestion) round-trips too:
    non-contiguous feature positions, an environment whose kind is not the one its slug
    suggests, a region, an auto-registered version, a user grant and a non-team group grant."""
    team = TeamFactory(slug="ops", name="Operations")
    system = SystemFactory(
        slug="billing", name="Billing", team=team, criticality="low", weight_profile="custom"
    )
    model = ModelFactory(system=system, slug="churn", positive_label="yes")
    FeatureFactory(model=model, name="tenure", position=7)
    FeatureFactory(model=model, name="plan", type="categorical", position=3)
    CohortAttributeFactory(model=model, name="segment", protected=True)
    ModelVersionFactory(model=model, version="2.0")
    ModelVersionFactory(model=model, version="2.1", auto_registered=True)
    env = EnvironmentFactory(system=system, slug="prod-eu", kind="staging", region="eu-central-1")
    DeploymentFactory(model_version=model.versions.get(version="2.0"), environment=env, status="retired")
    access.grant(system, [access.VIEW, access.MANAGE_ALERTS], group=team.group)
    access.grant(system, [access.VIEW_SENSITIVE], user=UserFactory(username="dana"))
    access.grant(system, [access.VIEW], group=Group.objects.get(name="executive"))

    exported = export(tmp_path)
    text = exported.read_text()
    assert "{slug: prod-eu, kind: staging, region: eu-central-1}" in text
    assert "versions: ['2.0', '2.1']" in text
    assert "user:dana: [view_sensitive]" in text
    before = counts()
    out = apply(exported)
    assert "No changes" in out
    assert "not in file, left as is: access to billing for group executive: view_system" in out
    assert counts() == before
    assert list(model.features.order_by("position").values_list("name", "position")) == [
        ("plan", 3),
        ("tenure", 7),
    ]


def test_apply_file_export_apply_is_a_no_op_after_edits(tmp_path):
    """apply(file) → export → apply: the export of an applied file re-applies without change."""
    apply(SAMPLE)
    edited = SAMPLE.read_text().replace("positive_label: fraud", "positive_label: true")
    edited = edited.replace("[prod, staging]", "[prod, staging, {slug: dev, region: local}]")
    apply(write(tmp_path, edited))
    assert Environment.objects.get(system__slug="fraud-scoring", slug="dev").kind == "development"
    assert Model.objects.get(slug="detector").positive_label is True
    before = counts()
    assert "No changes" in apply(export(tmp_path))
    assert counts() == before


# -- partial files ----------------------------------------------------------------------------
def test_a_partial_file_deletes_nothing_and_says_what_it_left(tmp_path):
    apply(SAMPLE)
    partial = write(
        tmp_path,
        """
        systems:
          - slug: credit-risk
            name: Credit risk scoring
            team: risk-ml
            models:
              - slug: scorer
                task: binary_classification
                features:
                  - {name: income, type: numeric}
                  - {name: open_accounts, type: numeric}
                  - {name: new_signal, type: numeric}
            environments: [prod]
        """,
    )
    before = counts()
    out = apply(partial)
    assert "+ create feature credit-risk/scorer:new_signal: type='numeric', position=6" in out
    for left in (
        "system fraud-scoring",
        "system search-ranking",
        "feature credit-risk/scorer:region",
        "cohort credit-risk/scorer:sex",
        "version credit-risk/scorer 2.3.0",
        "environment credit-risk/edge",
        "deployment credit-risk/scorer 2.3.1 @ prod",
    ):
        assert f"not in file, left as is: {left}" in out
    after = counts()
    assert after["Feature"] == before["Feature"] + 1
    assert {k: v for k, v in after.items() if k not in ("Feature", "AuditRecord")} == {
        k: v for k, v in before.items() if k not in ("Feature", "AuditRecord")
    }
    # Stored positions are kept; the new feature goes after the last one.
    assert Feature.objects.get(name="open_accounts", model__slug="scorer").position == 3


# -- bad files apply nothing ------------------------------------------------------------------
VALID_HEAD = """
teams:
  - {slug: risk-ml, name: Risk ML}
systems:
  - slug: credit-risk
    name: Credit risk scoring
    team: risk-ml
    models:
      - slug: scorer
        task: binary_classification
        features:
          - {name: income, type: numeric}
"""

MALFORMED = {
    "syntax error": (
        VALID_HEAD + "          - {name: region, type: categorical\n    environments: [prod]\n",
        "systems[0].models[0].features[1]",
        "environments: [prod]",
        "YAML syntax error",
    ),
    "unknown key": (
        VALID_HEAD + "          - {name: region, type: categorical, nullable: true}\n",
        "systems[0].models[0].features[1].nullable",
        "nullable",
        "unknown key 'nullable'",
    ),
    "wrong type": (
        VALID_HEAD + "    environments: prod\n",
        "systems[0].environments",
        "environments: prod",
        "must be a list",
    ),
    "bad enum": (
        VALID_HEAD + "          - {name: region, type: text}\n",
        "systems[0].models[0].features[1].type",
        "type: text",
        "'text' is not one of: numeric, categorical",
    ),
    "not a boolean": (
        VALID_HEAD + "        cohorts:\n          - {name: sex, protected: 'yes'}\n",
        "systems[0].models[0].cohorts[0].protected",
        "protected: 'yes'",
        "must be true or false",
    ),
    "duplicate slug": (
        VALID_HEAD + "  - {slug: credit-risk, name: Again, team: risk-ml}\n",
        "systems[1]",
        "name: Again",
        "duplicate system slug 'credit-risk'",
    ),
    "duplicate key": (
        VALID_HEAD + "    team: other\n",
        "systems[0].team",
        "team: other",
        "duplicate key 'team'",
    ),
    "missing key": (
        VALID_HEAD + "  - {slug: fraud, team: risk-ml}\n",
        "systems[1].name",
        "slug: fraud",
        "missing required key 'name'",
    ),
    "unknown permission": (
        VALID_HEAD + "    access:\n      risk-ml: [view_system, admin]\n",
        "systems[0].access.risk-ml[1]",
        "risk-ml: [view_system, admin]",
        "'admin' is not one of",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_a_malformed_file_applies_nothing_and_names_path_and_line(tmp_path, case):
    text, key_path, line_text, message = MALFORMED[case]
    path = write(tmp_path, text)
    before = counts()
    with pytest.raises(CommandError) as excinfo:
        apply(path)
    error = str(excinfo.value)
    assert f"{path}:{line_of(path, line_text)}: {key_path}: " in error, error
    assert message in error
    assert "nothing was applied" in error
    assert counts() == before


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        """
        systems:
          - slug: a
            name: A
            team: t
            criticalty: high
            models:
              - {slug: m, task: classification}
        bogus: 1
        """,
    )
    with pytest.raises(CommandError) as excinfo:
        apply(path)
    error = str(excinfo.value)
    assert "3 problems" in error
    assert f"{path}:5: systems[0].criticalty: unknown key 'criticalty'" in error
    assert "did you mean 'criticality'?" in error
    assert f"{path}:7: systems[0].models[0].task: 'classification' is not one of" in error
    assert f"{path}:8: bogus: unknown key 'bogus'" in error


def test_feature_type_change_that_would_break_stored_data_is_refused(tmp_path):
    apply(SAMPLE)
    # Together with a harmless change, which must not be applied either.
    text = SAMPLE.read_text().replace("{name: region, type: categorical}", "{name: region, type: numeric}")
    text = text.replace("name: Search ranking", "name: Search ranking v2")
    path = write(tmp_path, text)
    before = counts()
    with pytest.raises(CommandError) as excinfo:
        apply(path)
    error = str(excinfo.value)
    line = line_of(path, "{name: region, type: numeric}")
    assert f"{path}:{line}: systems[0].models[0].features[4].type: " in error
    assert "would break stored data" in error
    assert counts() == before
    assert System.objects.get(slug="search-ranking").name == "Search ranking"
    assert Feature.objects.get(model__slug="scorer", name="region").type == "categorical"


def test_task_change_of_a_model_with_versions_is_refused(tmp_path):
    apply(SAMPLE)
    path = write(tmp_path, SAMPLE.read_text().replace("task: regression", "task: binary_classification"))
    before = counts()
    with pytest.raises(CommandError) as excinfo:
        apply(path)
    line = line_of(path, "slug: ranker") + 1
    assert f"{path}:{line}: systems[2].models[0].task: model search-ranking/ranker is regression" in str(
        excinfo.value
    )
    assert counts() == before


def test_reordering_features_of_a_model_with_versions_is_refused(tmp_path):
    apply(SAMPLE)
    text = SAMPLE.read_text().replace(
        "          - {name: income, type: numeric}\n          - {name: debt_to_income, type: numeric}\n",
        "          - {name: debt_to_income, type: numeric}\n          - {name: income, type: numeric}\n",
    )
    path = write(tmp_path, text)
    before = counts()
    with pytest.raises(CommandError) as excinfo:
        apply(path)
    assert (
        "systems[0].models[0].features[0]: feature credit-risk/scorer:debt_to_income is at position 1"
        in str(excinfo.value)
    )
    assert counts() == before


LAB = """
systems:
  - slug: lab
    name: Lab
    team: research
    models:
      - slug: proto
        task: regression
        features:
{features}
"""


def lab(tmp_path, *features: str) -> Path:
    return write(tmp_path, LAB.format(features="\n".join(f"          - {f}" for f in features)))


def test_a_model_without_versions_may_change_feature_types_and_order(tmp_path):
    apply(lab(tmp_path, "{name: a, type: numeric}", "{name: b, type: numeric}", "{name: c, type: numeric}"))
    out = apply(
        lab(tmp_path, "{name: b, type: categorical}", "{name: a, type: numeric}", "{name: c, type: numeric}")
    )
    assert "~ update feature lab/proto:b: type 'numeric' → 'categorical', position 1 → 0" in out
    assert "~ update feature lab/proto:a: position 0 → 1" in out
    proto = Model.objects.get(slug="proto")
    assert list(proto.features.order_by("position").values_list("name", "type")) == [
        ("b", "categorical"),
        ("a", "numeric"),
        ("c", "numeric"),
    ]
    # Reordering while leaving a feature out would give two features one position: refused.
    before = counts()
    with pytest.raises(CommandError) as excinfo:
        apply(lab(tmp_path, "{name: c, type: numeric}", "{name: a, type: numeric}"))
    assert "feature 'b' of lab/proto is not in the file and would share position 0 with 'c'" in str(
        excinfo.value
    )
    assert counts() == before


def test_atomic_a_failing_write_rolls_back_the_whole_file(tmp_path):
    """A write the database refuses half-way (a team whose auth group is already another
    team's) rolls back every change made before it."""
    squatter = TeamFactory(slug="squatter")
    squatter.group.name = "team:zeta"
    squatter.group.save()
    path = write(
        tmp_path,
        """
        teams:
          - {slug: alpha, name: Alpha}
          - {slug: zeta, name: Zeta}
        """,
    )
    before = counts()
    with pytest.raises(CommandError) as excinfo:
        apply(path)
    assert "the database refused a change, so nothing was applied" in str(excinfo.value)
    assert counts() == before
    assert not Team.objects.filter(slug="alpha").exists()


def test_references_to_unknown_objects_are_refused_with_their_line(tmp_path):
    path = write(
        tmp_path,
        """
        systems:
          - slug: lab
            name: Lab
            team: research
            models:
              - {slug: proto, task: regression, versions: ["1.0"]}
            environments: [prod]
            deployments:
              - {model: proto, version: "2.0", environment: prod}
              - {model: proto, version: "1.0", environment: moon}
              - {model: other, version: "1.0", environment: prod}
            access:
              user:nobody: [view_system]
        """,
    )
    before = counts()
    with pytest.raises(CommandError) as excinfo:
        apply(path)
    error = str(excinfo.value)
    assert f"{path}:9: systems[0].deployments[0].version: model lab/proto has no version '2.0'" in error
    assert f"{path}:10: systems[0].deployments[1].environment: system lab has no environment 'moon'" in error
    assert f"{path}:11: systems[0].deployments[2].model: system lab has no model 'other'" in error
    assert f"{path}:13: systems[0].access.user:nobody: no user named 'nobody'" in error
    assert counts() == before


# -- access ----------------------------------------------------------------------------------
def test_access_grants_take_effect_for_team_members_and_users(tmp_path):
    apply(SAMPLE)
    risk = UserFactory(username="rita")
    risk.groups.add(Team.objects.get(slug="risk-ml").group)
    search = UserFactory(username="sam")
    search.groups.add(Team.objects.get(slug="discovery").group)
    outsider = UserFactory(username="olga")

    assert set(access.systems_for(risk).values_list("slug", flat=True)) == {"credit-risk", "fraud-scoring"}
    assert set(access.systems_for(risk, access.VIEW_SENSITIVE).values_list("slug", flat=True)) == {
        "credit-risk",
        "fraud-scoring",
    }
    assert set(access.systems_for(search).values_list("slug", flat=True)) == {"credit-risk", "search-ranking"}
    assert not access.systems_for(search, access.INGEST).filter(slug="credit-risk").exists()
    assert not access.systems_for(outsider).exists()

    grant = write(
        tmp_path,
        """
        systems:
          - slug: search-ranking
            name: Search ranking
            team: discovery
            access:
              user:olga: [view_system]
        """,
    )
    out = apply(grant)
    assert "+ grant access to search-ranking for user olga: view_system" in out
    assert "not in file, left as is: access to search-ranking for team discovery" in out
    assert list(access.systems_for(outsider).values_list("slug", flat=True)) == ["search-ranking"]
    record = AuditRecord.objects.order_by("-seq").first()
    assert (record.action, record.source, record.after) == (
        "access.grant",
        "config",
        {"user": "olga", "permissions": ["view_system"]},
    )
    assert "No changes" in apply(grant)


def test_a_team_named_only_by_a_system_is_created(tmp_path):
    path = write(
        tmp_path,
        """
        systems:
          - {slug: lab, name: Lab, team: applied-research, access: {applied-research: [view_system]}}
        """,
    )
    out = apply(path)
    assert "+ create team applied-research: name='Applied Research'" in out
    assert out.count("create team") == 1
    team = Team.objects.get(slug="applied-research")
    assert System.objects.get(slug="lab").team == team
    member = UserFactory(username="ari")
    member.groups.add(team.group)
    assert list(access.systems_for(member).values_list("slug", flat=True)) == ["lab"]


# -- odds and ends ---------------------------------------------------------------------------
def test_versions_are_taken_as_written():
    """``2.0`` in YAML is a number; as a version it is the text as written."""
    document, problems = config.source.parse("versions: [2.0, 2.10, '3']\n", "x.yaml")
    check = config.schema.Checker()
    versions = [check.version(node) for node in document.value["versions"].value]
    assert (versions, problems, check.problems) == (["2.0", "2.10", "3"], [], [])


def test_export_config_writes_to_stdout_by_default():
    apply(SAMPLE)
    out = io.StringIO()
    call_command("export_config", stdout=out)
    assert out.getvalue().startswith("# Healthboard configuration")
    assert "  - slug: credit-risk\n" in out.getvalue()


def test_an_empty_file_changes_nothing(tmp_path):
    assert "No changes" in apply(write(tmp_path, "# nothing yet\n"))


def test_a_new_section_is_one_registration(tmp_path, monkeypatch):
    """The registry is the one place sections are listed: a section added there is
    validated, planned, applied (audited, in the transaction) and exported."""

    class NotesSection:
        key = "notes"

        def validate(self, node, check):
            return [check.string(n, max_length=50) for n in check.sequence(node) or []]

        def plan(self, spec, plan):
            for text in spec:
                team = Team.objects.get(slug="risk-ml")

                def run(ctx, text=text, team=team):
                    ctx.audit("note.create", team, after={"note": text})

                plan.add("note.create", "note", text, run)

        def export(self):
            return ["hello"]

    monkeypatch.setattr(registry, "SECTIONS", (*registry.SECTIONS, NotesSection()))
    apply(SAMPLE)
    path = write(tmp_path, "notes: [hello]\n")
    assert "+ create note: hello" in apply(path)
    assert AuditRecord.objects.filter(action="note.create", source="config").count() == 1
    assert "notes:\n  - hello\n" in export(tmp_path).read_text()
    with pytest.raises(CommandError, match=r"config.yaml:1: notes\[0\]: must be a string"):
        apply(write(tmp_path, "notes: [[1]]\n"))
