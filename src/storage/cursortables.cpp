// SPDX-License-Identifier: BSD-3-Clause
#include "cursortables_p.h"

#include "bindings_p.h"
#include "connections_p.h"

#include <QtCore/QUuid>

namespace Synq::Storage {

SyncError CursorTables::cursor(const QString &collection, const QString &scope,
                               SyncDatabase::Cursor *out) const
{
    QSqlQuery &q = m_connections.statement(
            "SELECT cursor, max_version FROM cursors WHERE collection = ? AND scope = ?");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    if (!q.exec())
        return failed(q);
    *out = SyncDatabase::Cursor();
    if (q.next()) {
        out->cursor = q.value(0).toString();
        out->maxVersion = q.value(1).toLongLong();
    }
    q.finish();
    return SyncError();
}

SyncError CursorTables::write(const QString &scope, qint64 now,
                              const SyncDatabase::CursorWrite &cursor) const
{
    QSqlQuery &c = m_connections.statement(
            "INSERT INTO cursors (collection, scope, cursor, updated_at, max_version)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (collection, scope) DO UPDATE SET"
            " cursor = excluded.cursor, updated_at = excluded.updated_at,"
            " max_version = MAX(cursors.max_version, excluded.max_version)");
    bind(c, 0, cursor.collection);
    bind(c, 1, text(scope));
    bind(c, 2, cursor.cursor);
    bind(c, 3, now);
    bind(c, 4, cursor.maxVersion);
    if (!c.exec())
        return failed(c);
    return SyncError();
}

SyncError CursorTables::reset(const QString &collection, const QString &scope) const
{
    return m_connections.run("DELETE FROM cursors WHERE collection = ? AND scope = ?",
                             { collection, text(scope) });
}

SyncError CursorTables::clearScope(const QString &scope) const
{
    return m_connections.run("DELETE FROM cursors WHERE scope = ?", { text(scope) });
}

SyncError CursorTables::clientId(QString *out) const
{
    QSqlQuery &get = m_connections.statement("SELECT value FROM meta WHERE name = 'client_id'");
    if (!get.exec())
        return failed(get);
    if (get.next()) {
        *out = get.value(0).toString();
        get.finish();
        return SyncError();
    }
    get.finish();
    const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    QSqlQuery &put = m_connections.statement(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('client_id', ?)");
    bind(put, 0, id);
    if (!put.exec())
        return failed(put);
    return clientId(out);
}

} // namespace Synq::Storage
