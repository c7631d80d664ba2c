"""API: sub-processor changes and objection tasks (staff), breaches (staff), notices and transparency (tenant)."""
from __future__ import annotations

from flask import g
from flask.views import MethodView

from privacy_saas.apiutil import ApiBlueprint
from privacy_saas.audit.service import current_actor_label
from privacy_saas.auth.principal import require_staff, require_tenant
from privacy_saas.notices import breaches, changes, inbox, objections, transparency
from privacy_saas.notices.schemas import (
    AuthorityInSchema,
    BreachDetailSchema,
    BreachInSchema,
    BreachQuerySchema,
    BreachSchema,
    SubprocessorChangeDetailSchema,
    SubprocessorChangeInSchema,
    SubprocessorChangeQuerySchema,
    SubprocessorChangeSchema,
    NoticeSchema,
    NotifySchema,
    ObjectionSchema,
    OverdueSchema,
    SubjectsInSchema,
    ObjectionTaskCloseSchema,
    ObjectionTaskQuerySchema,
    ObjectionTaskSchema,
    TransparencyQuerySchema,
    TransparencySchema,
    UpdateInSchema,
    WithdrawSchema,
)

changes_blp = ApiBlueprint("subprocessor_changes", __name__, url_prefix="/api/v1/subprocessors",
                           description="Sub-processor changes announced to tenants with an objection window "
                                       "(Art. 28(2), (4)), and the objections' tasks.")
breaches_blp = ApiBlueprint("breaches", __name__, url_prefix="/api/v1/breaches",
                            description="The breach register and its notification clocks (Art. 33, 34).")
notices_blp = ApiBlueprint("notices", __name__, url_prefix="/api/v1",
                           description="A tenant's notices and transparency page (Art. 28(3)(h)).")


# --- sub-processor changes ---------------------------------------------------------------------

@changes_blp.route("/changes")
class Changes(MethodView):
    @require_staff("subprocessors.read")
    @changes_blp.arguments(SubprocessorChangeQuerySchema, location="query")
    @changes_blp.response(200, SubprocessorChangeSchema(many=True))
    def get(self, query):
        """List proposed, published, withdrawn and applied changes."""
        return changes.list_changes(query.get("status"))

    @require_staff("subprocessors.write")
    @changes_blp.arguments(SubprocessorChangeInSchema)
    @changes_blp.response(201, SubprocessorChangeDetailSchema)
    def post(self, data):
        """Propose a change and (unless `draft`) publish it: every affected tenant is notified."""
        return changes.propose(data, publish=not data.pop("draft"))


@changes_blp.route("/changes/<uuid:change_id>")
class ChangeById(MethodView):
    @require_staff("subprocessors.read")
    @changes_blp.response(200, SubprocessorChangeDetailSchema)
    def get(self, change_id):
        """Show a change with each tenant's answer: acknowledged, objected (and why) or silent."""
        return changes.get(change_id)


@changes_blp.route("/changes/<uuid:change_id>/publish")
class PublishChange(MethodView):
    @require_staff("subprocessors.write")
    @changes_blp.response(200, SubprocessorChangeDetailSchema)
    def post(self, change_id):
        """Publish a draft: refused if its date leaves a tenant less than its notice."""
        return changes.publish_change(changes.get(change_id, lock=True))


@changes_blp.route("/changes/<uuid:change_id>/withdraw")
class WithdrawChange(MethodView):
    @require_staff("subprocessors.write")
    @changes_blp.arguments(WithdrawSchema)
    @changes_blp.response(200, SubprocessorChangeDetailSchema)
    def post(self, data, change_id):
        """Withdraw a change before it takes effect; the tenants told are told again."""
        return changes.withdraw(changes.get(change_id, lock=True), data["reason"])


@changes_blp.route("/objections")
class Objections(MethodView):
    @require_staff("objections.manage")
    @changes_blp.arguments(ObjectionTaskQuerySchema, location="query")
    @changes_blp.response(200, ObjectionTaskSchema(many=True))
    def get(self, query):
        """List tenants' objections as account-manager tasks (open by default)."""
        return objections.list_tasks(None if query["status"] == "all" else query["status"])


@changes_blp.route("/objections/<uuid:task_id>/take")
class TakeObjection(MethodView):
    @require_staff("objections.manage")
    @changes_blp.response(200, ObjectionTaskSchema)
    def post(self, task_id):
        """Take an objection task."""
        return objections.take(objections.get(task_id), g.principal.staff.id)


@changes_blp.route("/objections/<uuid:task_id>/close")
class CloseObjection(MethodView):
    @require_staff("objections.manage")
    @changes_blp.arguments(ObjectionTaskCloseSchema)
    @changes_blp.response(200, ObjectionTaskSchema)
    def post(self, data, task_id):
        """Close an objection task with how it was resolved."""
        return objections.close(objections.get(task_id), data["resolution"])


# --- breaches ----------------------------------------------------------------------------------

@breaches_blp.route("")
class Breaches(MethodView):
    @require_staff("breaches.read")
    @breaches_blp.arguments(BreachQuerySchema, location="query")
    @breaches_blp.response(200, BreachSchema(many=True))
    def get(self, query):
        """List the breach register, most recently discovered first."""
        return breaches.list_breaches(query.get("scope"))

    @require_staff("breaches.write")
    @breaches_blp.arguments(BreachInSchema)
    @breaches_blp.response(201, BreachDetailSchema)
    def post(self, data):
        """Record a breach: processor scope gives each affected tenant a notification deadline."""
        return breaches.record(data, notify=data.pop("notify"))


@breaches_blp.route("/overdue")
class OverdueBreaches(MethodView):
    @require_staff("breaches.read")
    @breaches_blp.response(200, OverdueSchema(many=True))
    def get(self):
        """List the deadlines passed with nobody told: tenants' notices and supervisory authorities."""
        return breaches.overdue()


@breaches_blp.route("/<uuid:breach_id>")
class BreachById(MethodView):
    @require_staff("breaches.read")
    @breaches_blp.response(200, BreachDetailSchema)
    def get(self, breach_id):
        """Show a breach with each tenant's notification and the updates given."""
        return breaches.get(breach_id)


@breaches_blp.route("/<uuid:breach_id>/notify")
class NotifyBreach(MethodView):
    @require_staff("breaches.write")
    @breaches_blp.arguments(NotifySchema)
    @breaches_blp.response(200, BreachDetailSchema)
    def post(self, data, breach_id):
        """Send the first notice to the affected tenants not yet notified (or those named)."""
        breach = breaches.get(breach_id, lock=True)
        breaches.notify_tenants(breach, data.get("tenants"), data["channel"])
        return breach


@breaches_blp.route("/<uuid:breach_id>/updates")
class BreachUpdates(MethodView):
    @require_staff("breaches.write")
    @breaches_blp.arguments(UpdateInSchema)
    @breaches_blp.response(201, BreachDetailSchema)
    def post(self, data, breach_id):
        """Give more information (Art. 33(4)); every tenant already notified gets it as a notice."""
        breach = breaches.get(breach_id, lock=True)
        breaches.add_update(breach, data.pop("summary"), data)
        return breach


@breaches_blp.route("/<uuid:breach_id>/authority")
class BreachAuthority(MethodView):
    @require_staff("breaches.write")
    @breaches_blp.arguments(AuthorityInSchema)
    @breaches_blp.response(200, BreachDetailSchema)
    def post(self, data, breach_id):
        """Controller scope: record the supervisory authority's notification, or the reasoned decision not to."""
        return breaches.decide_authority(breaches.get(breach_id, lock=True), data["decision"], reason=data.get("reason"),
                                         notified_at=data.get("notified_at"), reference=data.get("reference"))


@breaches_blp.route("/<uuid:breach_id>/subjects")
class BreachSubjects(MethodView):
    @require_staff("breaches.write")
    @breaches_blp.arguments(SubjectsInSchema)
    @breaches_blp.response(200, BreachDetailSchema)
    def post(self, data, breach_id):
        """Controller scope: record whether the data subjects must be told (Art. 34), and when they were."""
        return breaches.decide_subjects(breaches.get(breach_id, lock=True), data["decision"], reason=data.get("reason"),
                                        informed_at=data.get("informed_at"))


# --- a tenant's notices and transparency page --------------------------------------------------

@notices_blp.route("/notices")
class Notices(MethodView):
    @require_tenant()
    @notices_blp.response(200, NoticeSchema(many=True))
    def get(self, tenant):
        """List the notices sent to you, newest first."""
        return inbox.list_for(tenant)


@notices_blp.route("/notices/<uuid:notice_id>")
class NoticeById(MethodView):
    @require_tenant()
    @notices_blp.response(200, NoticeSchema)
    def get(self, notice_id, tenant):
        """Show one of your notices."""
        return inbox.get(tenant, notice_id)


@notices_blp.route("/notices/<uuid:notice_id>/acknowledge")
class AcknowledgeNotice(MethodView):
    @require_tenant()
    @notices_blp.response(200, NoticeSchema)
    def post(self, notice_id, tenant):
        """Acknowledge a notice (for a sub-processor change, until the day before it takes effect)."""
        return inbox.acknowledge(tenant, inbox.get(tenant, notice_id, lock=True), current_actor_label())


@notices_blp.route("/notices/<uuid:notice_id>/objection")
class ObjectToNotice(MethodView):
    @require_tenant()
    @notices_blp.arguments(ObjectionSchema)
    @notices_blp.response(201, NoticeSchema)
    def post(self, data, notice_id, tenant):
        """Object to a sub-processor change, with your reasons, until the day before it takes effect."""
        notice = inbox.get(tenant, notice_id, lock=True)
        inbox.object_to(tenant, notice, current_actor_label(), data["reason"])
        return notice


@notices_blp.route("/transparency")
class Transparency(MethodView):
    @require_tenant()
    @notices_blp.arguments(TransparencyQuerySchema, location="query")
    @notices_blp.response(200, TransparencySchema)
    def get(self, query, tenant):
        """Your terms, sub-processors (now or on a past day), pending changes, notices, audit log, purge date."""
        return transparency.page(tenant, query.get("as_of"))
