"""Render an Art. 30 record as JSON, Markdown (to read and print) or CSV (one row per processing activity)."""
from __future__ import annotations

import io
import json

from privacy_saas import csvsafe

FORMATS = {"json": "application/json", "md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8"}
TITLES = {"processor": "Record of processing activities carried out as processor (GDPR Art. 30(2))",
          "controller": "Record of processing activities as controller (GDPR Art. 30(1))"}


def render(record: dict, fmt: str) -> str:
    """Return `record` in format `fmt` (json, md or csv)."""
    if fmt == "json":
        return json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv(record)
    return _markdown(record)


def _cell(value) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines + [""]


def _labels(items: list[dict]) -> str:
    return "; ".join(item["label"] for item in items) or "none"


def _transfers(items: list[dict]) -> str:
    return "; ".join(f"{t['subprocessor']} in {t['country']} ({t['location']}), safeguards: {t['safeguards']}"
                     for t in items) or "none"


def _party(title: str, party: dict) -> list[str]:
    return [f"## {title}", "", f"- Name: {party['name']}", f"- Contact details: {party['contact']}",
            f"- Data protection officer: {party['dpo']}", f"- Representative (Art. 27): {party['representative']}",
            f"- Established in region: {party['region']}", ""]


def _activity(activity: dict, controller: bool) -> list[str]:
    lines = [f"### {activity['label']}", "", activity["description"], "",
             f"- Data subjects: {_labels(activity['data_subjects'])}",
             f"- Categories of personal data: {_labels(activity['data_categories'])}"]
    if controller:
        lines += [f"- Lawful basis: {_labels(activity['lawful_basis'])}",
                  f"- Recipients: {', '.join(activity['recipients']) or 'none outside the vendor'}",
                  f"- Transfers to third countries: {_transfers(activity['transfers'])}"]
    lines += [f"- Retention: {', '.join(activity['retention'])}", ""]
    rows = [[c["label"], f"`{col['table']}.{col['column']}`", "sealed" if col["encrypted"] else "plaintext",
             col["retention"], col["plaintext_because"] or ""]
            for c in activity["data_categories"] for col in c["columns"]]
    return lines + _table(["Category", "Column", "Stored", "Retention", "Why plaintext"], rows)


def _common(record: dict, recipients_title: str, recipients: list[dict]) -> list[str]:
    lines = [f"## {recipients_title}", ""]
    lines += _table(["Name", "Purpose", "Country", "Location", "Receives", "Categories", "Tenant regions",
                     "Safeguards", "DPA signed", "Last review"],
                    [[s["name"], s["purpose"], s["country"] or "not recorded", s["location"], s["scopes"],
                      s["data_categories"], s["tenant_regions"], s["safeguards"], s["dpa_signed_on"] or "none",
                      s["last_reviewed_on"] or "never"] for s in recipients]) if recipients else ["None.", ""]
    lines += ["## Retention", ""]
    lines += _table(["Rule", "Period", "What it means", "Set by", "Applied by"],
                    [[f"`{r['name']}`", r["period"], r["summary"], r["configured_by"] or "-", r["enforced_by"]]
                     for r in record["retention"]])
    lines += ["## Technical and organisational measures (Art. 32)", ""]
    lines += [f"- **{m['measure']}**: {m['detail']} _(from {m['source']})_" for m in record["measures"]]
    return lines + [""]


def _markdown(record: dict) -> str:
    kind = record["record"]
    m = record["data_map"]
    lines = [f"# {TITLES[kind]}", "",
             f"Generated {record['generated_at']} by {record['software']} from the data map {m['digest']} "
             f"({m['columns']} columns, {m['personal_columns']} personal, {m['encrypted_columns']} sealed).", ""]
    if kind == "processor":
        labels = {a["purpose"]: a["label"] for a in record["processing"]}
        lines += _party("Processor", record["processor"])
        lines += [f"## Controllers ({len(record['controllers'])})", ""]
        for c in record["controllers"]:
            terms = c["terms"]
            lines += [f"### {c['name']} (`{c['slug']}`)", "",
                      f"- Region: {c['region']}; status: {c['status']}; contract {c['contract_start']} to "
                      f"{c['contract_end'] or 'open-ended'}",
                      f"- Privacy contacts: {', '.join(c['privacy_contacts']) or 'none recorded'}",
                      f"- Retention after contract end: {terms['retain_after_end']} (purge due "
                      f"{terms['purge_due_on'] or 'once the contract ends'}), then {terms['end_action']}; usage "
                      f"records kept {terms['usage_retention']}",
                      f"- Categories of processing: {', '.join(labels[p] for p in c['processing']) or 'none'}",
                      f"- Sub-processors: {', '.join(c['subprocessors']) or 'none'}",
                      f"- Transfers to third countries: {_transfers(c['transfers'])}", ""]
        if record["former_controllers"]:
            lines += ["## Former controllers (purged)", ""]
            lines += _table(["Tenant", "Name", "Purged", "Deletion certificate"],
                            [[f["slug"], f["name"], f["purged_at"], f["certificate_id"]]
                             for f in record["former_controllers"]])
        lines += ["## Categories of processing carried out for each controller", ""]
        for activity in record["processing"]:
            lines += _activity(activity, controller=False)
        lines += _common(record, "Sub-processors", record["subprocessors"])
    else:
        lines += _party("Controller", record["controller"])
        lines += ["## Processing activities", ""]
        for activity in record["activities"]:
            lines += _activity(activity, controller=True)
        lines += [f"Tables holding no personal data: {', '.join(record['not_personal'])}.", ""]
        lines += _common(record, "Recipients (sub-processors)", record["recipients"])
    return "\n".join(lines)


def _columns(activity: dict) -> str:
    return "; ".join(f"{c['category']}: " + ", ".join(
        f"{col['table']}.{col['column']}{'' if col['encrypted'] else ' (plaintext)'}" for col in c["columns"])
        for c in activity["data_categories"])


def _csv(record: dict) -> str:
    out = io.StringIO()
    writer = csvsafe.Writer(out)
    measures = "; ".join(f"{m['measure']}: {m['detail']}" for m in record["measures"])
    periods = {r["name"]: r["period"] for r in record["retention"]}

    def retention(activity: dict) -> str:
        return "; ".join(f"{name} ({periods[name]})" for name in activity["retention"])

    if record["record"] == "processor":
        activities = {a["purpose"]: a for a in record["processing"]}
        writer.writerow(["controller", "slug", "region", "status", "privacy_contacts", "purpose", "description",
                         "data_subjects", "data_categories", "columns", "retention", "retain_after_end",
                         "usage_retention", "purge_due_on", "subprocessors", "transfers", "measures"])
        for c in record["controllers"]:
            for name in c["processing"]:
                a = activities[name]
                writer.writerow([c["name"], c["slug"], c["region"], c["status"], ", ".join(c["privacy_contacts"]),
                                 a["label"], a["description"], _labels(a["data_subjects"]),
                                 _labels(a["data_categories"]), _columns(a), retention(a),
                                 c["terms"]["retain_after_end"], c["terms"]["usage_retention"],
                                 c["terms"]["purge_due_on"] or "", ", ".join(c["subprocessors"]),
                                 _transfers(c["transfers"]), measures])
    else:
        writer.writerow(["purpose", "description", "scope", "lawful_basis", "data_subjects", "data_categories",
                         "columns", "recipients", "transfers", "retention", "measures"])
        for a in record["activities"]:
            writer.writerow([a["label"], a["description"], a["scope"], _labels(a["lawful_basis"]),
                             _labels(a["data_subjects"]), _labels(a["data_categories"]), _columns(a),
                             ", ".join(a["recipients"]), _transfers(a["transfers"]), retention(a), measures])
    return out.getvalue()
