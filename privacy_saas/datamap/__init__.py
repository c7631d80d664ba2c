"""The data map: what every column holds, for whom, why and for how long.

Models declare it with the helpers re-exported here (`declarations`); the retention rules live in
one registry (`retention`) that the purge and the sweeps read; `catalogue` walks the models and
reports what is missing; `privacy_saas.records` turns the map into Art. 30 records and inventories.
"""
from privacy_saas.datamap.declarations import not_personal, person_id, person_state, personal, table

__all__ = ["not_personal", "person_id", "person_state", "personal", "table"]
