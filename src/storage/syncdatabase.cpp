// SPDX-License-Identifier: BSD-3-Clause
#include <synq/syncdatabase.h>

#include "bindings_p.h"
#include "connections_p.h"
#include "cursortables_p.h"
#include "itemtables_p.h"
#include "outboxtables_p.h"
#include "schema_p.h"

#include <synq/json.h>

#include <QtCore/QDir>
#include <QtCore/QFileInfo>

/*
    SyncDatabase is a unit-of-work facade: each public method is one SQL transaction (or one
    read) over the private parts of the storage layer. The table parts each own some tables and
    know nothing of each other; all of them use the bindings and the connections.

    - schema.cpp: the tables, the migrations and the checks open() runs;
    - bindings.cpp: how values are bound and read (shared by every part);
    - connections.cpp: one connection per thread, its prepared statements, transact();
    - outboxtables.cpp: transactions, mutations, attempts, the active_from mark;
    - itemtables.cpp: items, tombstones and the id map;
    - cursortables.cpp: cursors and the client id.

    Which writes belong to one SQL transaction is decided here and nowhere else.
*/

namespace Synq {

class SyncDatabasePrivate
{
public:
    explicit SyncDatabasePrivate(const QString &path)
        : connections(path), outbox(connections), items(connections), cursors(connections)
    {
    }

    Storage::Connections connections;
    Storage::OutboxTables outbox;
    Storage::ItemTables items;
    Storage::CursorTables cursors;
    int schemaVersion = 0;
};

/*!
    \class Synq::SyncDatabase
    \inmodule Synq
    \internal
*/

SyncDatabase::SyncDatabase(const QString &path) : d(new SyncDatabasePrivate(path)) { }

SyncDatabase::~SyncDatabase()
{
    close();
}

QString SyncDatabase::path() const
{
    return d->connections.path();
}

bool SyncDatabase::isOpen() const
{
    return d->connections.isOpen();
}

int SyncDatabase::schemaVersion() const
{
    return d->schemaVersion;
}

SyncDatabase::Synchronous SyncDatabase::synchronous() const
{
    return d->connections.synchronous();
}

QSqlDatabase SyncDatabase::connection() const
{
    return d->connections.database();
}

void SyncDatabase::releaseThreadConnection()
{
    d->connections.releaseThisThread();
}

void SyncDatabase::close()
{
    d->connections.closeAll();
}

SyncError SyncDatabase::open(Synchronous synchronous)
{
    if (d->connections.isOpen())
        return SyncError();
    // Not open: this only sets the level the connections are opened with.
    d->connections.setSynchronous(synchronous);

    const QString path = d->connections.path();
    if (path.isEmpty())
        return SyncError(SyncError::Storage, tr("No database path is set."));

    const QFileInfo info(path);
    if (!QDir().mkpath(info.absolutePath())) {
        return SyncError(SyncError::Storage,
                         tr("Cannot create the folder for the database at %1.")
                                 .arg(info.absolutePath()));
    }

    QSqlDatabase db = d->connections.database();
    QSqlQuery q(db);
    auto fail = [&](const SyncError &error) {
        // Let go of the connection before close() removes it.
        q = QSqlQuery();
        db = QSqlDatabase();
        close();
        return error;
    };

    if (!db.open()) {
        return fail(Storage::storageError(tr("Cannot open the database file %1.").arg(path),
                                          db.lastError()));
    }

    // Read-only checks first: a foreign file must come out of this untouched.
    q = QSqlQuery(db);
    Storage::Schema::Found found;
    if (const SyncError error = Storage::Schema::inspect(q, path, &found); error.isError())
        return fail(error);
    if (const SyncError error = d->connections.configure(q); error.isError())
        return fail(error);
    if (const SyncError error = Storage::Schema::upgrade(q, path, found); error.isError())
        return fail(error);

    d->schemaVersion = SchemaVersion;
    d->connections.setOpen();
    qCDebug(lcStorage) << "opened" << path;
    return SyncError();
}

SyncError SyncDatabase::setSynchronous(Synchronous synchronous)
{
    return d->connections.setSynchronous(synchronous);
}

SyncError SyncDatabase::loadItems(const QString &collection, const QString &scope,
                                  QList<StoredItem> *out, qint64 after, qint64 upTo,
                                  int limit) const
{
    return d->items.load(collection, scope, out, after, upTo, limit);
}

QJsonObject SyncDatabase::StoredItem::data() const
{
    QJsonObject object;
    Json::decodeObject(json, &object);
    return object;
}

SyncError SyncDatabase::lastOrd(const QString &collection, const QString &scope,
                                qint64 *ord) const
{
    return d->items.lastOrd(collection, scope, ord);
}

SyncError SyncDatabase::visibleOrd(const QString &collection, const QString &scope,
                                   const QString &key, qint64 *ord) const
{
    return d->items.visibleOrd(collection, scope, key, ord);
}

SyncError SyncDatabase::writeLocalTransaction(const TransactionRecord &tx,
                                              QList<ItemWrite> *writes)
{
    return d->connections.transact([&]() -> SyncError {
        const qint64 now = Storage::toMs(tx.updatedAt.isValid() ? tx.updatedAt
                                                                : QDateTime::currentDateTimeUtc());
        const Storage::ItemTables::LocalWrite items = d->items.localWrite(tx.scope, now);
        // The text an item was written with serves the mutation that made that state too.
        QList<QVariant> modifiedText;
        SyncError error;
        for (ItemWrite &w : *writes) {
            if (!items.write(w, &error))
                return error;
            if (w.visible && w.lastMutation >= 0 && w.lastMutation < tx.mutations.size()) {
                if (modifiedText.isEmpty())
                    modifiedText.resize(tx.mutations.size());
                modifiedText[w.lastMutation] = Storage::jsonText(w.json);
            }
        }
        return d->outbox.insert(tx, modifiedText);
    });
}

SyncError SyncDatabase::loadTransactions(const QString &scope, bool includeCompleted,
                                         QList<TransactionRecord> *out) const
{
    return d->outbox.load(scope, includeCompleted, QString(), out);
}

SyncError SyncDatabase::loadTransaction(const QString &id, TransactionRecord *out,
                                        bool *found) const
{
    QList<TransactionRecord> records;
    const SyncError error = d->outbox.load(QString(), true, id, &records);
    *found = !error.isError() && records.size() == 1;
    if (*found)
        *out = records.constFirst();
    return error;
}

SyncError SyncDatabase::loadConflicts(const QString &scope, QList<ConflictRecord> *out) const
{
    return d->outbox.loadConflicts(scope, out);
}

SyncError SyncDatabase::loadSynced(const QString &collection, const QString &scope,
                                   const QStringList &keys, QHash<QString, SyncedState> *out) const
{
    return d->items.loadSynced(collection, scope, keys, out);
}

SyncError SyncDatabase::loadIdMap(const QString &scope, QHash<QString, QString> *out) const
{
    return d->items.loadIdMap(scope, out);
}

SyncError SyncDatabase::referencing(const QString &collection, const QString &scope,
                                    const QString &field, const QString &key,
                                    QStringList *out) const
{
    return d->items.referencing(collection, scope, field, key, out);
}

SyncError SyncDatabase::visibleKeys(const QString &collection, const QString &scope,
                                    const QStringList &keys, QSet<QString> *out) const
{
    return d->items.visibleKeys(collection, scope, keys, out);
}

SyncError SyncDatabase::clearScope(const QString &scope)
{
    return d->connections.transact([&]() -> SyncError {
        if (const SyncError error = d->items.clearScope(scope); error.isError())
            return error;
        if (const SyncError error = d->outbox.clearScope(scope); error.isError())
            return error;
        return d->cursors.clearScope(scope);
    });
}

SyncError SyncDatabase::clientId(QString *out)
{
    return d->cursors.clientId(out);
}

SyncError SyncDatabase::cursor(const QString &collection, const QString &scope, Cursor *out) const
{
    return d->cursors.cursor(collection, scope, out);
}

SyncError SyncDatabase::writeCompaction(const Compaction::Plan &plan)
{
    return d->connections.transact([&] { return d->outbox.writeCompaction(plan); });
}

SyncError SyncDatabase::resetCursor(const QString &collection, const QString &scope)
{
    return d->cursors.reset(collection, scope);
}

SyncError SyncDatabase::syncedKeys(const QString &collection, const QString &scope,
                                   QStringList *out) const
{
    return d->items.syncedKeys(collection, scope, out);
}

SyncError SyncDatabase::deleteTransactions(const QStringList &ids)
{
    return d->connections.transact([&] { return d->outbox.remove(ids); });
}

SyncError SyncDatabase::writeSynced(const QString &scope,
                                    const QList<TransactionWrite> &transactions,
                                    QList<SyncedWrite> *items, const CursorWrite *cursorWrite,
                                    const QList<Remapping::KeyChange> &remaps)
{
    return d->connections.transact([&]() -> SyncError {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        if (const SyncError error = d->items.remap(scope, now, remaps); error.isError())
            return error;
        if (const SyncError error = d->outbox.writeStates(transactions); error.isError())
            return error;
        if (const SyncError error = d->items.writeSynced(scope, now, items); error.isError())
            return error;
        if (cursorWrite)
            return d->cursors.write(scope, now, *cursorWrite);
        return SyncError();
    });
}

SyncError SyncDatabase::integrityCheck(QString *result) const
{
    QSqlQuery q(d->connections.database());
    if (!q.exec(QStringLiteral("PRAGMA integrity_check")))
        return Storage::failed(q);
    QStringList lines;
    while (q.next())
        lines.append(q.value(0).toString());
    *result = lines.join(QLatin1Char('\n'));
    return SyncError();
}

} // namespace Synq
