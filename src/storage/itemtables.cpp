// SPDX-License-Identifier: BSD-3-Clause
#include "itemtables_p.h"

#include "bindings_p.h"
#include "connections_p.h"

#include <synq/identifier.h>
#include <synq/json.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>

namespace Synq::Storage {

namespace {

// Any number of keys for one statement: one bound JSON array, read with json_each().
QString keyArray(const QStringList &keys)
{
    return QString::fromUtf8(
            QJsonDocument(QJsonArray::fromStringList(keys)).toJson(QJsonDocument::Compact));
}

// The first column of every row of an executed query.
SyncError readKeys(QSqlQuery &q, QStringList *out)
{
    out->clear();
    while (q.next())
        out->append(q.value(0).toString());
    q.finish();
    return SyncError();
}

} // namespace

SyncError ItemTables::load(const QString &collection, const QString &scope,
                           QList<SyncDatabase::StoredItem> *out, qint64 after, qint64 upTo,
                           int limit) const
{
    QSqlQuery &q = m_connections.statement(
            "SELECT ord, key, version, COALESCE(local_data, data), local_data IS NOT NULL,"
            " CASE WHEN local_data IS NOT NULL THEN data END FROM items"
            " WHERE collection = ? AND scope = ?"
            " AND ord > ? AND ord <= ? AND local_deleted = 0"
            " AND deleted = 0 AND COALESCE(local_data, data) IS NOT NULL ORDER BY ord LIMIT ?");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    bind(q, 2, after);
    bind(q, 3, upTo);
    bind(q, 4, limit);
    if (!q.exec())
        return failed(q);
    out->clear();
    while (q.next()) {
        SyncDatabase::StoredItem item;
        item.ord = q.value(0).toLongLong();
        item.key = q.value(1).toString();
        item.version = q.value(2).toLongLong();
        item.json = q.value(3).toString().toUtf8();
        item.json.squeeze(); // toUtf8() reserves three bytes per character
        item.optimistic = q.value(4).toBool();
        if (item.optimistic && !q.value(5).isNull())
            item.synced = decode(q.value(5));
        out->append(std::move(item));
    }
    q.finish();
    return SyncError();
}

SyncError ItemTables::lastOrd(const QString &collection, const QString &scope, qint64 *ord) const
{
    QSqlQuery &q = m_connections.statement(
            "SELECT MAX(ord) FROM items WHERE collection = ? AND scope = ?");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    if (!q.exec())
        return failed(q);
    *ord = q.next() ? q.value(0).toLongLong() : 0; // NULL (no items) reads as 0
    q.finish();
    return SyncError();
}

SyncError ItemTables::visibleOrd(const QString &collection, const QString &scope,
                                 const QString &key, qint64 *ord) const
{
    QSqlQuery &q = m_connections.statement(
            "SELECT ord FROM items WHERE collection = ? AND scope = ? AND key = ?"
            " AND local_deleted = 0 AND deleted = 0 AND COALESCE(local_data, data) IS NOT NULL");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    bind(q, 2, key);
    if (!q.exec())
        return failed(q);
    *ord = q.next() ? q.value(0).toLongLong() : 0;
    q.finish();
    return SyncError();
}

SyncError ItemTables::loadSynced(const QString &collection, const QString &scope,
                                 const QStringList &keys,
                                 QHash<QString, SyncDatabase::SyncedState> *out) const
{
    out->clear();
    if (keys.isEmpty())
        return SyncError();
    // Any number of keys in one statement: they arrive as one bound JSON array.
    QSqlQuery &q = m_connections.statement(
            "SELECT key, version, CASE WHEN deleted = 0 THEN data END FROM items"
            " WHERE collection = ? AND scope = ? AND key IN (SELECT value FROM json_each(?))");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    bind(q, 2, keyArray(keys));
    if (!q.exec())
        return failed(q);
    while (q.next()) {
        SyncDatabase::SyncedState state;
        state.version = q.value(1).toLongLong();
        if (!q.value(2).isNull())
            state.data = decode(q.value(2));
        out->insert(q.value(0).toString(), state);
    }
    q.finish();
    return SyncError();
}

SyncError ItemTables::syncedKeys(const QString &collection, const QString &scope,
                                 QStringList *out) const
{
    QSqlQuery &q = m_connections.statement(
            "SELECT key FROM items WHERE collection = ? AND scope = ? AND deleted = 0"
            " AND data IS NOT NULL");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    if (!q.exec())
        return failed(q);
    return readKeys(q, out);
}

ItemTables::LocalWrite ItemTables::localWrite(const QString &scope, qint64 now) const
{
    return LocalWrite(m_connections, scope, now);
}

ItemTables::LocalWrite::LocalWrite(const Connections &connections, const QString &scope,
                                   qint64 now)
    : m_item(connections.statement(
            "INSERT INTO items (collection, scope, key, version, data, local_data,"
            " local_deleted, deleted, updated_at)"
            " VALUES (?, ?, ?, 0, NULL, CAST(? AS TEXT), ?, 0, ?)"
            " ON CONFLICT (collection, scope, key) DO UPDATE SET"
            // An item that was not visible and comes back takes a fresh place at the end.
            " ord = CASE WHEN items.local_deleted = 1 OR items.deleted = 1"
            " OR COALESCE(items.local_data, items.data) IS NULL"
            " THEN (SELECT MAX(ord) + 1 FROM items) ELSE items.ord END,"
            " local_data = excluded.local_data, local_deleted = excluded.local_deleted,"
            " updated_at = excluded.updated_at RETURNING ord")),
      m_tombstone(connections.statement(
              "INSERT INTO tombstones (collection, scope, key, version, deleted_at, confirmed)"
              " SELECT collection, scope, key, version, ?, 0 FROM items"
              " WHERE collection = ? AND scope = ? AND key = ?"
              " ON CONFLICT (collection, scope, key) DO UPDATE SET"
              " deleted_at = excluded.deleted_at")),
      // The common cases without RETURNING (which costs SQLite a temporary result): a row
      // the caller sees keeps its place; a key never seen is a plain insert.
      m_visibleItem(connections.statement(
              "UPDATE items SET local_data = CAST(? AS TEXT), local_deleted = ?, updated_at = ?"
              " WHERE collection = ? AND scope = ? AND key = ?")),
      m_newItem(connections.statement(
              "INSERT INTO items (collection, scope, key, version, data, local_data,"
              " local_deleted, deleted, updated_at)"
              " VALUES (?, ?, ?, 0, NULL, CAST(? AS TEXT), ?, 0, ?)"
              " ON CONFLICT (collection, scope, key) DO NOTHING")),
      m_scope(text(scope)),
      m_now(now)
{
}

bool ItemTables::LocalWrite::write(SyncDatabase::ItemWrite &w, SyncError *error) const
{
    if (w.visible) {
        w.json = Json::encode(*w.visible);
        w.json.squeeze(); // held by the model as it is
    }
    const QVariant local = w.visible ? jsonText(w.json) : QVariant();
    auto fail = [error](const QSqlQuery &q) {
        *error = failed(q);
        return false;
    };
    // The two inserts (a new key; the upsert) take the same values.
    auto bindInsert = [&](QSqlQuery &q) {
        bind(q, 0, w.collection);
        bind(q, 1, m_scope);
        bind(q, 2, w.key);
        bind(q, 3, local);
        bind(q, 4, w.visible ? 0 : 1);
        bind(q, 5, m_now);
    };
    bool written = false;
    if (w.visibleOrd > 0) {
        bind(m_visibleItem, 0, local);
        bind(m_visibleItem, 1, w.visible ? 0 : 1);
        bind(m_visibleItem, 2, m_now);
        bind(m_visibleItem, 3, w.collection);
        bind(m_visibleItem, 4, m_scope);
        bind(m_visibleItem, 5, w.key);
        if (!m_visibleItem.exec())
            return fail(m_visibleItem);
        written = m_visibleItem.numRowsAffected() == 1;
        w.ord = w.visibleOrd;
    } else if (w.visible) {
        bindInsert(m_newItem);
        if (!m_newItem.exec())
            return fail(m_newItem);
        written = m_newItem.numRowsAffected() == 1;
        if (written)
            w.ord = m_newItem.lastInsertId().toLongLong();
    }
    if (!written) {
        bindInsert(m_item);
        if (!m_item.exec() || !m_item.next())
            return fail(m_item);
        w.ord = m_item.value(0).toLongLong();
        m_item.finish();
    }
    if (!w.visible) {
        bind(m_tombstone, 0, m_now);
        bind(m_tombstone, 1, w.collection);
        bind(m_tombstone, 2, m_scope);
        bind(m_tombstone, 3, w.key);
        if (!m_tombstone.exec())
            return fail(m_tombstone);
    }
    return true;
}

SyncError ItemTables::writeSynced(const QString &scope, qint64 now,
                                  QList<SyncDatabase::SyncedWrite> *items) const
{
    // Synced state, and the local overlay where the caller knows it (local set): a pulled
    // row without local changes keeps local_data NULL; local_deleted is only ever changed by
    // the caller, so a pulled upsert never resurrects a row removed locally.
    QSqlQuery &item = m_connections.statement(
            "INSERT INTO items (collection, scope, key, version, data, local_data,"
            " local_deleted, deleted, updated_at)"
            " VALUES (?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?)"
            " ON CONFLICT (collection, scope, key) DO UPDATE SET"
            " ord = CASE WHEN (items.local_deleted = 1 OR items.deleted = 1"
            "   OR COALESCE(items.local_data, items.data) IS NULL)"
            "   AND NOT (CASE WHEN ? THEN excluded.local_deleted ELSE items.local_deleted END = 1"
            "   OR excluded.deleted = 1 OR COALESCE(CASE WHEN ? THEN excluded.local_data"
            "   ELSE items.local_data END, excluded.data) IS NULL)"
            "   THEN (SELECT MAX(ord) + 1 FROM items) ELSE items.ord END,"
            " version = excluded.version, data = excluded.data, deleted = excluded.deleted,"
            " local_data = CASE WHEN ? THEN excluded.local_data ELSE items.local_data END,"
            " local_deleted = CASE WHEN ? THEN excluded.local_deleted ELSE items.local_deleted END,"
            " updated_at = excluded.updated_at"
            " RETURNING ord, local_deleted = 0 AND deleted = 0"
            " AND COALESCE(local_data, data) IS NOT NULL");
    QSqlQuery &tombstone = m_connections.statement(
            "INSERT INTO tombstones (collection, scope, key, version, deleted_at, confirmed)"
            " VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (collection, scope, key) DO UPDATE SET"
            " version = excluded.version, deleted_at = excluded.deleted_at, confirmed = 1");
    for (SyncDatabase::SyncedWrite &w : *items) {
        bind(item, 0, w.collection);
        bind(item, 1, text(scope));
        bind(item, 2, w.key);
        bind(item, 3, w.version);
        bind(item, 4, jsonOrNull(w.synced.value_or(QJsonObject()), w.synced.has_value()));
        bind(item, 5,
             w.local ? jsonOrNull(w.local->value_or(QJsonObject()), w.local->has_value())
                     : QVariant());
        bind(item, 6, w.localDeleted ? 1 : 0);
        bind(item, 7, w.synced ? 0 : 1);
        bind(item, 8, now);
        bind(item, 9, w.setLocal ? 1 : 0);
        bind(item, 10, w.setLocal ? 1 : 0);
        bind(item, 11, w.setLocal ? 1 : 0);
        bind(item, 12, w.setLocal ? 1 : 0);
        if (!item.exec() || !item.next())
            return failed(item);
        w.ord = item.value(0).toLongLong();
        w.visibleInStore = item.value(1).toBool();
        item.finish();
        if (!w.synced) {
            bind(tombstone, 0, w.collection);
            bind(tombstone, 1, text(scope));
            bind(tombstone, 2, w.key);
            bind(tombstone, 3, w.version);
            bind(tombstone, 4, now);
            if (!tombstone.exec())
                return failed(tombstone);
        }
    }
    return SyncError();
}

SyncError ItemTables::remap(const QString &scope, qint64 now,
                            const QList<Remapping::KeyChange> &changes) const
{
    // A row pulled under the server key before the push's answer came is the same item: it
    // gives way to the client's row, which keeps its place.
    QSqlQuery &drop = m_connections.statement(
            "DELETE FROM items WHERE collection = ? AND scope = ? AND key = ? AND EXISTS"
            " (SELECT 1 FROM items WHERE collection = ? AND scope = ? AND key = ?)");
    QSqlQuery &rename = m_connections.statement(
            "UPDATE items SET key = ? WHERE collection = ? AND scope = ? AND key = ?");
    QSqlQuery &map = m_connections.statement(
            "INSERT OR REPLACE INTO id_map (collection, scope, client_key, server_key,"
            " created_at) VALUES (?, ?, ?, ?, ?)");
    QSqlQuery &conflict = m_connections.statement(
            "UPDATE conflicts SET key = ? WHERE collection = ? AND scope = ? AND key = ?");
    const auto run = [](QSqlQuery &q, const QVariantList &values) {
        for (qsizetype i = 0; i < values.size(); ++i)
            bind(q, int(i), values.at(i));
        return q.exec();
    };
    for (const Remapping::KeyChange &c : changes) {
        const QVariant sc = text(scope);
        if (!run(drop, { c.collection, sc, c.serverKey, c.collection, sc, c.clientKey }))
            return failed(drop);
        if (!run(rename, { c.serverKey, c.collection, sc, c.clientKey }))
            return failed(rename);
        if (!run(map, { c.collection, sc, c.clientKey, c.serverKey, now }))
            return failed(map);
        if (!run(conflict, { c.serverKey, c.collection, sc, c.clientKey }))
            return failed(conflict);
    }
    return SyncError();
}

SyncError ItemTables::loadIdMap(const QString &scope, QHash<QString, QString> *out) const
{
    QSqlQuery &q = m_connections.statement(
            "SELECT collection, client_key, server_key FROM id_map WHERE scope = ?");
    bind(q, 0, text(scope));
    if (!q.exec())
        return failed(q);
    out->clear();
    while (q.next())
        out->insert(itemId(q.value(0).toString(), q.value(1).toString()), q.value(2).toString());
    q.finish();
    return SyncError();
}

SyncError ItemTables::referencing(const QString &collection, const QString &scope,
                                  const QString &field, const QString &key,
                                  QStringList *out) const
{
    // (field is an identifier: the JSON path needs no escaping beyond its quotes.)
    QSqlQuery &q = m_connections.statement(
            "SELECT key FROM items WHERE collection = ? AND scope = ?"
            " AND (json_extract(data, ?) = ? OR json_extract(local_data, ?) = ?)");
    const QString path = QStringLiteral("$.\"%1\"").arg(field);
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    bind(q, 2, path);
    bind(q, 3, key);
    bind(q, 4, path);
    bind(q, 5, key);
    if (!q.exec())
        return failed(q);
    return readKeys(q, out);
}

SyncError ItemTables::visibleKeys(const QString &collection, const QString &scope,
                                  const QStringList &keys, QSet<QString> *out) const
{
    out->clear();
    if (keys.isEmpty())
        return SyncError();
    QSqlQuery &q = m_connections.statement(
            "SELECT key FROM items WHERE collection = ? AND scope = ?"
            " AND key IN (SELECT value FROM json_each(?)) AND local_deleted = 0"
            " AND CASE WHEN local_data IS NOT NULL THEN 1 ELSE deleted = 0 AND data IS NOT NULL END");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    bind(q, 2, keyArray(keys));
    if (!q.exec())
        return failed(q);
    while (q.next())
        out->insert(q.value(0).toString());
    q.finish();
    return SyncError();
}

SyncError ItemTables::clearScope(const QString &scope) const
{
    for (const char *sql : { "DELETE FROM items WHERE scope = ?",
                             "DELETE FROM id_map WHERE scope = ?",
                             "DELETE FROM tombstones WHERE scope = ?" }) {
        if (const SyncError error = m_connections.run(sql, { text(scope) }); error.isError())
            return error;
    }
    return SyncError();
}

} // namespace Synq::Storage
