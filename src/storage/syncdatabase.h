// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCDATABASE_H
#define SYNQ_SYNCDATABASE_H

#include <synq/compaction.h>
#include <synq/records.h>
#include <synq/remapping.h>
#include <synq/syncerror.h>
#include <synq/synq_export.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QSet>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtSql/QSqlDatabase>

#include <limits>
#include <memory>
#include <optional>

namespace Synq {

class SyncDatabasePrivate;

/*
    The local SQLite replica of one SyncEngine: items (synced state plus the optimistic overlay),
    the outbox (transactions, mutations, attempts), cursors, the id map and tombstones.

    Each thread that touches the database gets its own named QSqlDatabase connection with the
    same pragmas (WAL, synchronous, busy_timeout, foreign_keys). Every statement binds its
    values; collection and field names are validated before they get here and are bound too.
*/
class SYNQ_EXPORT SyncDatabase
{
    Q_DECLARE_TR_FUNCTIONS(Synq::SyncDatabase)

public:
    enum class Synchronous { Normal, Full };

    // Schema versions this build can read and write (PRAGMA user_version).
    static constexpr int SchemaVersion = 7;
    // PRAGMA application_id of every Synq database: "Synq" in ASCII.
    static constexpr qint32 ApplicationId = 0x53796e71;

    struct StoredItem
    {
        qint64 ord = 0; // order of first appearance in this replica
        QString key;
        qint64 version = 0;
        // The visible state (synced data with the optimistic overlay) as stored: compact JSON
        // text, decoded by data() — a model holds rows as text and decodes the one it shows.
        QByteArray json;
        QJsonObject data() const;
        bool optimistic = false; // the visible state differs from the synced one
        std::optional<QJsonObject> synced; // for optimistic rows: the synced state, if any
    };

    // A transaction's new state: state, current attempt, queuedBehind, error, updatedAt, each
    // mutation's state and base version, and its last attempt (inserted or updated by id).
    struct TransactionWrite
    {
        TransactionRecord record;
        QString droppedAttempt; // an attempt withdrawn (the backend was never reached)
        bool moveToEnd = false; // last in commit order now (a retried dead letter)
        bool rewritten = false; // the mutations' changes were rewritten (a conflict rebased)
        // The conflict it now waits on (the Manual policy), stored in conflicts.
        std::optional<ConflictRecord> conflict;
        bool conflictResolved = false; // its stored conflict is over: removed
    };

    // An item's synced state from the server (a push result or a pulled change).
    struct SyncedWrite
    {
        QString collection;
        QString key;
        qint64 version = 0;
        std::optional<QJsonObject> synced; // nullopt: deleted on the server
        // The local overlay: written only when setLocal (the caller knows it).
        bool setLocal = false;
        std::optional<std::optional<QJsonObject>> local; // local_data (nullopt inside: NULL)
        bool localDeleted = false;
        // Out: the item's place, and whether it is visible after the write.
        qint64 ord = 0;
        bool visibleInStore = false;
    };

    struct Cursor
    {
        QString cursor; // empty: from the beginning
        qint64 maxVersion = 0; // the highest version applied through this cursor
    };
    struct CursorWrite
    {
        QString collection;
        QString cursor;
        qint64 maxVersion = 0;
    };

    // One item's new visible state, written together with an outbox transaction.
    struct ItemWrite
    {
        QString collection;
        QString key;
        qint64 ord = 0; // set by writeLocalTransaction(): the item's place in the replica
        std::optional<QJsonObject> visible; // nullopt: removed locally
        qint64 visibleOrd = 0; // the place of the row the caller shows now (0: not shown)
        QByteArray json; // set by writeLocalTransaction(): visible as written (compact JSON)
        // The mutation (index in the transaction) whose modified state is visible — the last
        // one on this item — or -1: its modified is stored from the item's text, not encoded
        // again.
        qsizetype lastMutation = -1;
    };

    explicit SyncDatabase(const QString &path);
    ~SyncDatabase();

    QString path() const;

    SyncError open(Synchronous synchronous = Synchronous::Full);
    void close();
    bool isOpen() const;

    SyncError setSynchronous(Synchronous synchronous);
    Synchronous synchronous() const;

    // This thread's connection, created on first use with the engine's pragmas.
    QSqlDatabase connection() const;
    // Drops this thread's connection (call it before a worker thread ends).
    void releaseThreadConnection();

    int schemaVersion() const;

    // The visible items with after < ord <= upTo, in ord order, at most limit of them (-1: all).
    SyncError loadItems(const QString &collection, const QString &scope, QList<StoredItem> *out,
                        qint64 after = 0,
                        qint64 upTo = std::numeric_limits<qint64>::max(),
                        int limit = -1) const;
    // The highest ord any item of the collection has (visible or not); 0 when it has none.
    SyncError lastOrd(const QString &collection, const QString &scope, qint64 *ord) const;
    // The ord of the item with this key if it is visible, else 0.
    SyncError visibleOrd(const QString &collection, const QString &scope, const QString &key,
                         qint64 *ord) const;
    // Writes the items' visible states and the transaction with its mutations in ONE SQL
    // transaction: either all of it is durable when this returns, or none of it is.
    SyncError writeLocalTransaction(const TransactionRecord &transaction,
                                    QList<ItemWrite> *writes);

    // The scope's transactions in commit order: the active and failed ones, and the completed
    // ones too if includeCompleted.
    SyncError loadTransactions(const QString &scope, bool includeCompleted,
                               QList<TransactionRecord> *out) const;
    SyncError loadTransaction(const QString &id, TransactionRecord *out, bool *found) const;

    // The synced state (server version and data; nullopt data: never synced or deleted) of
    // the given keys, whether they are visible or not.
    struct SyncedState
    {
        qint64 version = 0;
        std::optional<QJsonObject> data;
    };
    // The scope's conflicts waiting for the app, oldest first.
    SyncError loadConflicts(const QString &scope, QList<ConflictRecord> *out) const;
    SyncError loadSynced(const QString &collection, const QString &scope, const QStringList &keys,
                         QHash<QString, SyncedState> *out) const;

    // Removes transactions (with their mutations and attempts) from the outbox for good.
    SyncError deleteTransactions(const QStringList &ids);

    // Removes everything of a scope — items, outbox (transactions, mutations, attempts),
    // cursors, id map, tombstones — in one SQL transaction.
    SyncError clearScope(const QString &scope);

    // This replica's client id (made once, kept in the file).
    SyncError clientId(QString *out);

    SyncError cursor(const QString &collection, const QString &scope, Cursor *out) const;
    // Writes a compaction plan's merges: survivors' rewritten mutations, and which
    // transaction each absorbed one now travels in (cancellations go through writeSynced).
    SyncError writeCompaction(const Compaction::Plan &plan);

    // Forgets a collection's cursor: the next pull starts from the beginning.
    SyncError resetCursor(const QString &collection, const QString &scope);
    // Keys of the collection's rows that have a synced (server) state.
    SyncError syncedKeys(const QString &collection, const QString &scope, QStringList *out) const;

    // In ONE SQL transaction: transaction state changes, synced item states and (for a
    // pulled page) the new cursor.
    // With remaps, the items take the server's keys first (the rows keep their places; the id
    // map records each pair): items then names them by their server keys.
    SyncError writeSynced(const QString &scope, const QList<TransactionWrite> &transactions,
                          QList<SyncedWrite> *items, const CursorWrite *cursor = nullptr,
                          const QList<Remapping::KeyChange> &remaps = {});
    // The scope's id map: itemId(collection, client key) -> the key the server gave the item.
    SyncError loadIdMap(const QString &scope, QHash<QString, QString> *out) const;
    // Keys of the collection's rows whose field (synced or visible state) holds key.
    SyncError referencing(const QString &collection, const QString &scope, const QString &field,
                          const QString &key, QStringList *out) const;
    // Which of keys are rows of the collection that are visible (not deleted or removed).
    SyncError visibleKeys(const QString &collection, const QString &scope,
                          const QStringList &keys, QSet<QString> *out) const;

    // PRAGMA integrity_check; *result is "ok" for a sound file.
    SyncError integrityCheck(QString *result) const;

private:
    std::unique_ptr<SyncDatabasePrivate> d;
};

} // namespace Synq

#endif
