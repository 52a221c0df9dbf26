// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_COLLECTIONSTORE_P_H
#define SYNQ_COLLECTIONSTORE_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/json.h>
#include <synq/records.h>
#include <synq/syncdatabase.h>
#include <synq/syncerror.h>

#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QObject>

#include <array>
#include <functional>
#include <optional>

namespace Synq {

class Transaction;

struct StoreRow
{
    qint64 ord = 0;
    QString key;
    qint64 version = 0;
    // The visible state as compact JSON text (Json::encode): 100,000 rows held decoded cost
    // about 530 bytes more each; a row is decoded when it is read.
    QByteArray json;
    int pending = 0; // active transactions touching this row
    bool optimistic = false;
    bool syncing = false; // one of them is on its way to the backend
    bool conflict = false; // one of them waits for the app to resolve a conflict (Manual)
    SyncError lastError; // of the latest dead letter with a change to this row

    QJsonObject data() const
    {
        QJsonObject object;
        Json::decodeObject(json, &object);
        return object;
    }
    void setData(const QJsonObject &object, const QByteArray &encoded = QByteArray())
    {
        json = encoded.isEmpty() ? Json::encode(object) : encoded;
        if (json.capacity() > json.size())
            json.squeeze(); // (on text shared with its writer, squeeze() would copy it)
    }

    // A conflict waiting for the app shows first, then a dead letter on the row (until it is
    // retried or discarded), over anything pending.
    ItemSyncState syncState() const
    {
        if (conflict)
            return ItemSyncState::Conflict;
        if (lastError.isError())
            return ItemSyncState::Failed;
        if (syncing)
            return ItemSyncState::Syncing;
        return pending > 0 ? ItemSyncState::Pending : ItemSyncState::Synced;
    }
};

} // namespace Synq

// Rows move by memcpy when the list grows: a 100,000-row list regrows without copying rows.
Q_DECLARE_TYPEINFO(Synq::StoreRow, Q_RELOCATABLE_TYPE);

namespace Synq {

// key -> ord, split in shards: a QHash that grows rehashes every key in one go, which for a
// 100,000-row collection cost the GUI thread 10-25 ms in one turn; a shard rehashes 1/64 of it.
class KeyIndex
{
public:
    static constexpr int Shards = 64;

    const qint64 *find(const QString &key) const
    {
        const QHash<QString, qint64> &h = m_shards[shardOf(key)];
        const auto it = h.constFind(key);
        return it == h.cend() ? nullptr : &it.value();
    }
    void insert(const QString &key, qint64 ord) { m_shards[shardOf(key)].insert(key, ord); }
    void remove(const QString &key) { m_shards[shardOf(key)].remove(key); }
    void clear()
    {
        for (QHash<QString, qint64> &h : m_shards)
            h.clear();
    }
    void reserve(qsizetype count)
    {
        for (QHash<QString, qint64> &h : m_shards)
            h.reserve(count / Shards + 1);
    }

private:
    static size_t shardOf(const QString &key) { return qHash(key, size_t(0x5eed)) % Shards; }

    std::array<QHash<QString, qint64>, Shards> m_shards;
};

// A row's complete new state, as the engine computed it.
struct RowState
{
    QString key;
    QString previousKey; // the client key of a row the server gave this key (a remap)
    qint64 ord = 0; // for rows that become visible
    std::optional<QJsonObject> visible; // nullopt: not shown
    QByteArray json; // visible encoded (Json::encode), when the writer has it already
    qint64 version = 0;
    int pending = 0;
    bool optimistic = false;
    bool syncing = false;
    bool conflict = false;
    SyncError lastError;
};

// A row's sync state alone, for a change that leaves its content as it is.
struct RowSyncState
{
    QString key;
    int pending = 0;
    bool syncing = false;
    bool conflict = false;
    SyncError lastError;
};

// A row takes the sync state of a RowState or RowSyncState.
template<typename State>
void takeSyncState(StoreRow &row, const State &state)
{
    row.pending = state.pending;
    row.syncing = state.syncing;
    row.conflict = state.conflict;
    row.lastError = state.lastError;
}

/*
    The in-memory visible state of one collection in one engine and scope, shared by every
    SyncCollection model on it (M7). Rows are kept in replica order (ord). It emits
    begin/end-style signals so each attached model can emit exact, granular model signals.
*/
class CollectionStore : public QObject
{
    Q_OBJECT

public:
    enum MetaField : quint32 {
        MetaVersion = 0x1,
        MetaSyncState = 0x2,
        MetaOptimistic = 0x4,
        MetaPending = 0x8,
        MetaLastError = 0x10,
        MetaKey = 0x20,
    };

    // Reads the stored rows with after < ord <= upTo in ord order, at most limit (-1: all);
    // false if they cannot be read (the loader reports why).
    using Loader = std::function<bool(qint64 after, qint64 upTo, int limit, QList<StoreRow> *rows)>;
    // The ord of the stored visible row with this key, 0 if there is none.
    using Locator = std::function<qint64(const QString &key)>;

    CollectionStore(const QString &name, QObject *parent);

    QString name() const { return m_name; }
    // The rows in memory (the model's rows).
    int count() const { return int(m_rows.size()); }
    const StoreRow &row(int i) const { return m_rows.at(i); }
    // Rows in memory only.
    int indexOf(const QString &key) const;
    const StoreRow *resident(const QString &key) const;
    // Also a stored row not loaded yet: it is loaded first, with every row before it.
    int locate(const QString &key);
    const StoreRow *find(const QString &key);
    int pendingTransactions() const { return m_pendingTransactions; }
    // Changes whenever a row changes, appears or goes: a reader's cache of decoded rows is
    // valid while it stays the same.
    quint64 generation() const { return m_generation; }

    /*
        Windowed loading (M5): a collection opens with its first rows, and the stored rows
        after them come in as fetchMore() asks (QAbstractItemModel::fetchMore of the models,
        which views call as they scroll) or as find() needs one. Rows with ord > windowEnd —
        made or shown again after the store was loaded — are always in memory, so the rows in
        memory are the stored rows up to loadedUpTo plus every row after windowEnd.
    */
    void setLoader(Loader loader, Locator locator);
    // Where the loaded rows end after a load of at most limit (-1: all) rows up to upTo.
    static qint64 loadedUpTo(const QList<StoreRow> &rows, int limit, qint64 upTo)
    {
        return limit < 0 || rows.size() < limit ? upTo : rows.constLast().ord;
    }
    // The stored rows of a scope as loaded. Announced as a reset, or as inserted rows when the
    // store is empty and asInserted (it fills inside a mutation call, where a model reset
    // must not happen); an empty store that stays empty announces nothing.
    void reset(QList<StoreRow> rows, int pendingTransactions, qint64 loadedUpTo,
               qint64 windowEnd, bool asInserted = false);
    void clear();
    bool canFetchMore() const { return m_loadedUpTo < m_windowEnd; }
    // Loads up to count more stored rows; returns how many came.
    int fetchMore(int count);
    void fetchAll();
    // Rows appear, change or disappear; each model hears exact, granular signals.
    void applyStates(const QList<RowState> &states);
    void applySyncStates(const QList<RowSyncState> &states);
    void setPendingTransactions(int count);

Q_SIGNALS:
    void aboutToBeReset();
    void wasReset();
    void rowsAboutToBeInserted(int first, int last);
    void rowsInserted(int first, int last);
    void rowsAboutToBeRemoved(int first, int last);
    void rowsRemoved(int first, int last);
    void rowChanged(int row, const QStringList &fields, quint32 meta);
    void pendingTransactionsChanged();
    // A transaction with a change to this collection failed (for good: a dead letter).
    void transactionFailed(Synq::Transaction *transaction);
    // A push of a change to the row of key met a conflict (its outcome is on the transaction).
    void conflictDetected(const QString &key);
    // The server gave the item oldKey its own key newKey (the row, if shown, changed already).
    void idRemapped(const QString &oldKey, const QString &newKey);

private:
    bool isUnloaded(qint64 ord) const { return ord > m_loadedUpTo && ord <= m_windowEnd; }
    int load(qint64 upTo, int limit);
    void insertRows(QList<StoreRow> rows);
    void removeRows(QList<int> indexes);

    QString m_name;
    QList<StoreRow> m_rows; // sorted by ord
    KeyIndex m_ordByKey;
    int m_pendingTransactions = 0;
    Loader m_loader;
    Locator m_locator;
    qint64 m_loadedUpTo = 0;
    qint64 m_windowEnd = 0;
    quint64 m_generation = 0;
};

} // namespace Synq

#endif
