// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_ITEMTABLES_P_H
#define SYNQ_ITEMTABLES_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/remapping.h>
#include <synq/syncdatabase.h>

#include <QtCore/QSet>

QT_BEGIN_NAMESPACE
class QSqlQuery;
QT_END_NAMESPACE

namespace Synq::Storage {

class Connections;

/*
    Item tables: items (each item's synced state, its visible state with the optimistic overlay,
    and its place in the collection's order) and tombstones (a row per key deleted locally or on
    the server), and the id map: the key the server gave each item it did not keep the client's
    key for.
*/
class ItemTables
{
public:
    explicit ItemTables(const Connections &connections) : m_connections(connections) { }

    SyncError load(const QString &collection, const QString &scope,
                   QList<SyncDatabase::StoredItem> *out, qint64 after, qint64 upTo,
                   int limit) const;
    SyncError lastOrd(const QString &collection, const QString &scope, qint64 *ord) const;
    SyncError visibleOrd(const QString &collection, const QString &scope, const QString &key,
                         qint64 *ord) const;
    SyncError loadSynced(const QString &collection, const QString &scope,
                         const QStringList &keys,
                         QHash<QString, SyncDatabase::SyncedState> *out) const;
    SyncError syncedKeys(const QString &collection, const QString &scope,
                         QStringList *out) const;

    // The items of one local write: the statements are taken once, for all of them.
    class LocalWrite
    {
    public:
        // Writes w's visible state (setting w.json and w.ord) and, for a removal, its
        // tombstone. On failure returns false and sets *error (a bool, so that a bulk write
        // makes no SyncError per item).
        bool write(SyncDatabase::ItemWrite &w, SyncError *error) const;

    private:
        friend class ItemTables;
        LocalWrite(const Connections &connections, const QString &scope, qint64 now);

        QSqlQuery &m_item;
        QSqlQuery &m_tombstone;
        QSqlQuery &m_visibleItem;
        QSqlQuery &m_newItem;
        const QString m_scope;
        const qint64 m_now;
    };
    LocalWrite localWrite(const QString &scope, qint64 now) const;

    // Synced states from the server (and the local overlay where the caller sets it), with a
    // confirmed tombstone for each server delete; sets each write's ord and visibleInStore.
    SyncError writeSynced(const QString &scope, qint64 now,
                          QList<SyncDatabase::SyncedWrite> *items) const;

    // Server keys in place of client keys (before the items of the same write are written):
    // each item's row takes its server key (a row pulled under the server key already gives
    // way to it), the id map records the pair, and a waiting conflict follows.
    SyncError remap(const QString &scope, qint64 now,
                    const QList<Remapping::KeyChange> &changes) const;
    // The scope's id map: itemId(collection, client key) -> server key.
    SyncError loadIdMap(const QString &scope, QHash<QString, QString> *out) const;
    // Keys of collection's rows whose field (synced or visible) refers to key.
    SyncError referencing(const QString &collection, const QString &scope, const QString &field,
                          const QString &key, QStringList *out) const;
    // Which of keys are visible rows of collection.
    SyncError visibleKeys(const QString &collection, const QString &scope,
                          const QStringList &keys, QSet<QString> *out) const;

    // Items, id map and tombstones of the scope.
    SyncError clearScope(const QString &scope) const;

private:
    const Connections &m_connections;
};

} // namespace Synq::Storage

#endif
