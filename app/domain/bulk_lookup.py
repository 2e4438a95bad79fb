"""A bulk batch's identifiers: the users they name in the store (one find) and the
records of the same batch that name them too."""

from __future__ import annotations

from app.domain.errors import DomainError, DomainErrors, ErrorCode
from app.domain.profile import DerivedEmail, Document, Field, ValidPatch
from app.domain.users import MAX_REDIRECTS, input_field, lookup_ref, merge_interrupted
from app.store import registry
from app.store import users as users_store
from app.store.client import Session, Store

_IDENTIFIERS = ("externalUserId", "emails", "phones")
# The embedded server (SQLite engine) refuses an $in of more than about 450 values
# ("Expression tree is too large"); MongoDB takes any number, this keeps one code path.
LOOKUP_CHUNK = 400


async def _users(store: Store, app_id: str, user_ids: set[str], session: Session | None) -> dict[str, Document]:
    ids = sorted(user_ids)
    found: dict[str, Document] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        found.update(await users_store.find_by_ids(store, app_id, ids[start : start + LOOKUP_CHUNK], session))
    return found


def identifiers(document: Document) -> list[tuple[str, int | None, str]]:
    """(field, position in its list or None, value) of each identifier a document holds."""
    found: list[tuple[str, int | None, str]] = []
    if document.get("externalUserId"):
        found.append(("externalUserId", None, document["externalUserId"]))
    for name in ("emails", "phones"):
        found += [(name, position, value) for position, value in enumerate(document.get(name) or [])]
    return found


class Batch:
    """The state of one call: failures by index and what each identifier resolves to."""

    def __init__(self, store: Store, app_id: str, path: Field) -> None:
        self.store, self.app_id, self.path = store, app_id, path
        self.failed: dict[int, DomainError] = {}
        self.holders: dict[tuple[str, str], Document] = {}  # (field, value) → stored user
        self.live: dict[str, Document] = {}  # user id → live user (tombstones resolved)

    def reset(self, failed: dict[int, DomainError]) -> None:
        """Start an attempt of the batch's unit of work afresh: only ``failed`` stands."""
        self.failed = dict(failed)
        self.holders.clear()
        self.live.clear()

    def fail(self, index: int, error: DomainError | DomainErrors) -> None:
        errors = error.errors if isinstance(error, DomainErrors) else [error]
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        self.failed[index] = DomainError(first.code, first.message + more, first.field)

    async def look_up(self, patches: dict[int, ValidPatch], session: Session | None = None) -> None:
        """Every user that holds an identifier of the batch (plus merge redirects): one
        registry find by ``_id`` and one user find by ``_id`` per LOOKUP_CHUNK identifiers."""
        named: dict[str, tuple[str, int | None, str]] = {}
        for valid in patches.values():
            named.update(registry.identifiers_of({**valid.assign, **_derived(valid), "appId": self.app_id}))
        held = await registry.holders(self.store, named, session, batched=True)
        found = await _users(self.store, self.app_id, set(held.values()), session)
        for registry_key, user_id in held.items():
            field, _, value = named[registry_key]
            if user_id in found:
                self.holders[(field, value)] = found[user_id]
        for document in found.values():
            self.live[document["_id"]] = document
            for name, _, value in identifiers(document):
                self.holders[(name, value)] = document
        pending = {d["mergedInto"] for d in found.values() if "mergedInto" in d} - set(self.live)
        for _ in range(MAX_REDIRECTS):
            if not pending:
                break
            targets = list((await _users(self.store, self.app_id, pending, session)).values())
            self.live.update((target["_id"], target) for target in targets)
            pending = {t["mergedInto"] for t in targets if "mergedInto" in t} - set(self.live)

    def resolve(self, valid: ValidPatch) -> Document | None:
        ref = lookup_ref(valid)
        assert ref is not None
        name = {"externalUserId": "externalUserId", "email": "emails", "phone": "phones"}[ref.kind]
        document = self.holders.get((name, ref.value))
        for _ in range(MAX_REDIRECTS):
            if document is None or "mergedInto" not in document:
                return document
            document = self.live.get(document["mergedInto"])
        return None

    def conflicts(self, document: Document, path: Field, derived: DerivedEmail | None = None) -> list[DomainError]:
        errors = []
        for name, position, value in identifiers(document):
            holder = self.holders.get((name, value))
            if holder is not None and document["_id"] not in (holder["_id"], holder.get("mergedInto")):
                errors.append(merge_interrupted(name, value, input_field(name, position, value, path, derived)))
        return errors


def _derived(valid: ValidPatch) -> Document:
    """The email a record's externalUserId adds, as an extra ``emails`` field to look up."""
    derived = valid.derived_email
    return {} if derived is None else {"emails": [*valid.assign.get("emails", []), derived.email]}


def check_duplicates(batch: Batch, patches: dict[int, ValidPatch]) -> None:
    """Two records naming one identifier are reported, never silently merged."""
    owners: dict[tuple[str, str], int] = {}
    for index in sorted(patches):
        valid = patches[index]
        mine = identifiers({**valid.assign, **_derived(valid)})
        clash = next(((n, p, v) for n, p, v in mine if (n, v) in owners), None)
        if clash is not None:
            name, position, value = clash
            where = input_field(name, position, value, (*batch.path, index), valid.derived_email)
            batch.fail(
                index,
                DomainError(
                    ErrorCode.INVALID_INPUT,
                    f"{name} {value!r} is also in record {owners[(name, value)]} of this batch",
                    where,
                ),
            )
            continue
        owners.update(((name, value), index) for name, _, value in mine)
