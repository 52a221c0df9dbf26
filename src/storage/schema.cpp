// SPDX-License-Identifier: BSD-3-Clause
#include "schema_p.h"

#include "connections_p.h"

#include <QtSql/QSqlRecord>

/*
    The tables at schema 6 (docs/storage.md describes them for users):

    - items: per collection, scope and key, the synced state (version, data, deleted) and the
      visible one (local_data, local_deleted); ord is the row order. Item tables.
    - transactions, mutations, attempts, and the active_from mark in meta: the outbox. A
      transaction of one mutation holds it in its own row (the m_ columns); the view
      outbox_mutations shows every mutation wherever it is held. Outbox tables.
    - cursors, and the client id in meta: how far this replica has pulled, and who it is to the
      server. Cursor tables.
    - id_map maps a client key to the key the server assigned the item (written when a push
      result remaps it, read per scope so that a client key the app kept still names the
      item). tombstones, written on every local and server delete, are reserved for fetch()
      (a key known to be gone is not asked for again): nothing reads them yet.

    Migration texts never change once released: a file at version N has run exactly the steps
    up to N. Comments around them may.
*/

namespace Synq::Storage::Schema {

namespace {

// Schema steps: migration N takes a database from user_version N to N + 1. No step may lose or
// change data (an index is not data; a rebuilt table gets every row as it was).
const char *const migrationV1[] = {
    // ord is the order of first appearance in this replica, which is the order of the rows in
    // a collection; it survives key remaps (a remap must not move a row).
    "CREATE TABLE items ("
    " ord INTEGER PRIMARY KEY,"
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 0,"
    " data TEXT,"
    " local_data TEXT,"
    " local_deleted INTEGER NOT NULL DEFAULT 0,"
    " deleted INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (collection, scope, key))",
    "CREATE INDEX items_order ON items (collection, scope, ord)",
    "CREATE TABLE transactions ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " scope TEXT NOT NULL,"
    " strategy INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " current_attempt INTEGER NOT NULL DEFAULT 0,"
    " queued_behind TEXT,"
    " error_code INTEGER NOT NULL DEFAULT 0,"
    " error_message TEXT,"
    " error_detail TEXT,"
    " error_retryable INTEGER NOT NULL DEFAULT 0,"
    " error_http INTEGER NOT NULL DEFAULT 0,"
    " error_tx TEXT)",
    "CREATE INDEX transactions_scope_state ON transactions (scope, state)",
    "CREATE TABLE mutations ("
    " id TEXT PRIMARY KEY,"
    " tx_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " type INTEGER NOT NULL,"
    " base_version INTEGER NOT NULL DEFAULT 0,"
    " original TEXT,"
    " modified TEXT,"
    " changes TEXT,"
    " metadata TEXT,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    "CREATE INDEX mutations_tx ON mutations (tx_id, seq)",
    "CREATE INDEX mutations_item ON mutations (collection, scope, key)",
    "CREATE TABLE attempts ("
    " id TEXT PRIMARY KEY,"
    " tx_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,"
    " started_at INTEGER NOT NULL,"
    " completed_at INTEGER,"
    " error_code INTEGER NOT NULL DEFAULT 0,"
    " error_message TEXT,"
    " error_detail TEXT,"
    " retry_at INTEGER)",
    "CREATE INDEX attempts_tx ON attempts (tx_id, started_at)",
    "CREATE TABLE cursors ("
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " cursor TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (collection, scope)) WITHOUT ROWID",
    // Reserved for server-assigned keys (nothing reads it yet): client key -> server key.
    "CREATE TABLE id_map ("
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " client_key TEXT NOT NULL,"
    " server_key TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY (collection, scope, client_key)) WITHOUT ROWID",
    // Reserved for deletions (written on deletes, not read yet): fetch() and ghost prevention.
    "CREATE TABLE tombstones ("
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 0,"
    " deleted_at INTEGER NOT NULL,"
    " confirmed INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (collection, scope, key)) WITHOUT ROWID",
    nullptr,
};

// Schema 2: the meta table (client id), the highest applied version per cursor (which makes
// a cursor that moves backwards detectable), and the transaction a compacted one travels in.
const char *const migrationV2[] = {
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "ALTER TABLE cursors ADD COLUMN max_version INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE transactions ADD COLUMN merged_into TEXT",
    nullptr,
};

// Schema 3: no index on mutations by item. Nothing reads mutations that way (the engine keeps
// each item's pending mutations in memory), and the index cost every local write a B-tree.
const char *const migrationV3[] = {
    "DROP INDEX IF EXISTS mutations_item",
    nullptr,
};

// Schema 4: fewer B-trees per local write. transactions.seq without AUTOINCREMENT. A plain
// INTEGER PRIMARY KEY still gives a new row a higher seq than every existing one (which is all
// the commit order needs); the sqlite_sequence row AUTOINCREMENT updated cost every local write
// one more B-tree page. SQLite cannot drop AUTOINCREMENT in place: the table is rebuilt, with
// the same columns in the same order. upgrade() turns foreign keys off around this step — with
// them on, dropping the old table would delete every mutation and attempt through ON DELETE
// CASCADE.
const char *const migrationV4[] = {
    "CREATE TABLE transactions_v4 ("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " scope TEXT NOT NULL,"
    " strategy INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " current_attempt INTEGER NOT NULL DEFAULT 0,"
    " queued_behind TEXT,"
    " error_code INTEGER NOT NULL DEFAULT 0,"
    " error_message TEXT,"
    " error_detail TEXT,"
    " error_retryable INTEGER NOT NULL DEFAULT 0,"
    " error_http INTEGER NOT NULL DEFAULT 0,"
    " error_tx TEXT,"
    " merged_into TEXT)",
    "INSERT INTO transactions_v4 (seq, id, scope, strategy, state, created_at, updated_at,"
    " current_attempt, queued_behind, error_code, error_message, error_detail, error_retryable,"
    " error_http, error_tx, merged_into) SELECT seq, id, scope, strategy, state, created_at,"
    " updated_at, current_attempt, queued_behind, error_code, error_message, error_detail,"
    " error_retryable, error_http, error_tx, merged_into FROM transactions",
    "DROP TABLE transactions",
    "ALTER TABLE transactions_v4 RENAME TO transactions",
    "CREATE INDEX transactions_scope_state ON transactions (scope, state)",
    // Mutations are written, read and updated by transaction and place in it: keyed so, one
    // B-tree holds them (it was three — the table, the id index and mutations_tx). The id
    // (the idempotency key, from KeyGenerator) stays unique by how it is made.
    "CREATE TABLE mutations_v4 ("
    " id TEXT NOT NULL,"
    " tx_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " type INTEGER NOT NULL,"
    " base_version INTEGER NOT NULL DEFAULT 0,"
    " original TEXT,"
    " modified TEXT,"
    " changes TEXT,"
    " metadata TEXT,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (tx_id, seq)) WITHOUT ROWID",
    "INSERT INTO mutations_v4 (id, tx_id, seq, collection, scope, key, type, base_version,"
    " original, modified, changes, metadata, state, created_at, updated_at) SELECT id, tx_id,"
    " seq, collection, scope, key, type, base_version, original, modified, changes, metadata,"
    " state, created_at, updated_at FROM mutations",
    "DROP TABLE mutations",
    "ALTER TABLE mutations_v4 RENAME TO mutations",
    nullptr,
};

// Schema 5: fewer B-trees per outbox write.
// - No (scope, state) index on transactions: every local write and every state change paid
//   for it, and it served one query, the active transactions read at startup. Those are found
//   from the active_from mark in meta instead: a seq at or below every transaction that is not
//   Completed, so they are read as a range of the table's own key. writeSynced() moves the mark
//   past transactions as they complete (Completed is final, see Lifecycle::canTransition);
//   deletes keep it at or below the seq the next new transaction gets (MAX(seq) + 1).
// - attempts keyed by (transaction, attempt) in one WITHOUT ROWID B-tree (it was three: the
//   table, the id index and attempts_tx); attempt ids (KeyGenerator) stay unique by how they
//   are made.
const char *const migrationV5[] = {
    "DROP INDEX transactions_scope_state",
    "INSERT OR REPLACE INTO meta (name, value) SELECT 'active_from',"
    " COALESCE((SELECT MIN(seq) FROM transactions WHERE state <> 4),"
    " (SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions))",
    "CREATE TABLE attempts_v5 ("
    " id TEXT NOT NULL,"
    " tx_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,"
    " started_at INTEGER NOT NULL,"
    " completed_at INTEGER,"
    " error_code INTEGER NOT NULL DEFAULT 0,"
    " error_message TEXT,"
    " error_detail TEXT,"
    " retry_at INTEGER,"
    " PRIMARY KEY (tx_id, id)) WITHOUT ROWID",
    "INSERT INTO attempts_v5 (id, tx_id, started_at, completed_at, error_code, error_message,"
    " error_detail, retry_at) SELECT id, tx_id, started_at, completed_at, error_code,"
    " error_message, error_detail, retry_at FROM attempts",
    "DROP TABLE attempts",
    "ALTER TABLE attempts_v5 RENAME TO attempts",
    nullptr,
};

// Schema 6: a transaction of one mutation — what insert(), update() and remove() make — holds
// it in its own row (the m_ columns; m_id set), so that such a local write touches one outbox
// B-tree instead of two, and settling it updates one row. Transactions of several mutations
// keep them in mutations. The step moves the one mutation of transactions written before it
// into their rows, so that for every file "one mutation" and "held in the row" are the same.
// The outbox_mutations view shows every mutation, wherever it is held, with the columns of
// the mutations table.
const char *const migrationV6[] = {
    "ALTER TABLE transactions ADD COLUMN m_id TEXT",
    "ALTER TABLE transactions ADD COLUMN m_collection TEXT",
    "ALTER TABLE transactions ADD COLUMN m_key TEXT",
    "ALTER TABLE transactions ADD COLUMN m_type INTEGER",
    "ALTER TABLE transactions ADD COLUMN m_base_version INTEGER",
    "ALTER TABLE transactions ADD COLUMN m_original TEXT",
    "ALTER TABLE transactions ADD COLUMN m_modified TEXT",
    "ALTER TABLE transactions ADD COLUMN m_changes TEXT",
    "ALTER TABLE transactions ADD COLUMN m_metadata TEXT",
    "ALTER TABLE transactions ADD COLUMN m_state INTEGER",
    "ALTER TABLE transactions ADD COLUMN m_created_at INTEGER",
    "ALTER TABLE transactions ADD COLUMN m_updated_at INTEGER",
    "UPDATE transactions SET (m_id, m_collection, m_key, m_type, m_base_version, m_original,"
    " m_modified, m_changes, m_metadata, m_state, m_created_at, m_updated_at) = (SELECT id,"
    " collection, key, type, base_version, original, modified, changes, metadata, state,"
    " created_at, updated_at FROM mutations m WHERE m.tx_id = transactions.id)"
    " WHERE (SELECT count(*) FROM mutations m WHERE m.tx_id = transactions.id) = 1",
    "DELETE FROM mutations WHERE tx_id IN (SELECT id FROM transactions WHERE m_id IS NOT NULL)",
    "CREATE VIEW outbox_mutations AS"
    " SELECT id, tx_id, seq, collection, scope, key, type, base_version, original, modified,"
    " changes, metadata, state, created_at, updated_at FROM mutations"
    " UNION ALL SELECT m_id, id, 0, m_collection, scope, m_key, m_type, m_base_version,"
    " m_original, m_modified, m_changes, m_metadata, m_state, m_created_at, m_updated_at"
    " FROM transactions WHERE m_id IS NOT NULL",
    nullptr,
};

// Schema 7: conflicts (C3, C6). The hybrid logical clock stamp of each local write (for
// LastWriteWins), what the last conflict on push of a transaction came to, and
// the conflicts waiting for the app (the Manual policy) with what it decides between: the
// local change (NULL: a removal), the server's state (NULL: deleted) and the base record the
// change was made on (NULL: none, an insert).
const char *const migrationV7[] = {
    "ALTER TABLE transactions ADD COLUMN conflict_outcome INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE transactions ADD COLUMN hlc TEXT",
    "CREATE TABLE conflicts ("
    " id TEXT PRIMARY KEY,"
    " tx_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,"
    " scope TEXT NOT NULL,"
    " collection TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " local TEXT,"
    " server TEXT,"
    " server_version INTEGER NOT NULL DEFAULT 0,"
    " base TEXT,"
    " detected_at INTEGER NOT NULL)",
    "CREATE INDEX conflicts_tx ON conflicts (tx_id)",
    nullptr,
};

// The first schema version whose migration rebuilds a table referenced by foreign keys.
constexpr int FirstRebuildingMigration = 3; // migrationV4

const char *const *const migrations[] = { migrationV1, migrationV2, migrationV3, migrationV4,
                                          migrationV5, migrationV6, migrationV7 };
static_assert(sizeof(migrations) / sizeof(migrations[0]) == SyncDatabase::SchemaVersion,
              "one migration per schema version");

} // namespace

SyncError inspect(QSqlQuery &q, const QString &path, Found *found)
{
    if (!q.exec(QStringLiteral("PRAGMA application_id")) || !q.next()) {
        return storageError(
                SyncDatabase::tr("The file %1 is not a Synq database or is damaged.").arg(path),
                q.lastError());
    }
    found->applicationId = q.value(0).toLongLong();
    if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next())
        return failed(q);
    found->userVersion = q.value(0).toInt();
    if (!q.exec(QStringLiteral("SELECT count(*) FROM sqlite_master")) || !q.next()) {
        return storageError(
                SyncDatabase::tr("The file %1 is not a Synq database or is damaged.").arg(path),
                q.lastError());
    }
    found->objects = q.value(0).toInt();

    const qint64 applicationId = found->applicationId;
    if (applicationId != SyncDatabase::ApplicationId
        && (applicationId != 0 || found->objects != 0)) {
        return SyncError(SyncError::Storage,
                         SyncDatabase::tr("The file %1 is not a Synq database.").arg(path),
                         QStringLiteral("application_id=%1 objects=%2")
                                 .arg(applicationId)
                                 .arg(found->objects));
    }
    if (found->userVersion > SyncDatabase::SchemaVersion) {
        return SyncError(
                SyncError::Storage,
                SyncDatabase::tr("The database %1 was written by a newer version of Synq (schema "
                                 "%2; this version reads up to %3).")
                        .arg(path)
                        .arg(found->userVersion)
                        .arg(SyncDatabase::SchemaVersion));
    }
    return SyncError();
}

SyncError upgrade(QSqlQuery &q, const QString &path, const Found &found)
{
    // A table rebuild runs with foreign keys off (see migrationV4); the check before COMMIT
    // proves every reference still resolves. (The pragma is a no-op inside a transaction.)
    const bool rebuilds = found.userVersion <= FirstRebuildingMigration && found.objects != 0;
    if (rebuilds && !q.exec(QStringLiteral("PRAGMA foreign_keys = OFF")))
        return failed(q);
    struct ForeignKeysBackOn
    {
        QSqlQuery &q;
        bool active;
        ~ForeignKeysBackOn()
        {
            if (active)
                q.exec(QStringLiteral("PRAGMA foreign_keys = ON"));
        }
    } foreignKeysBackOn { q, rebuilds };

    // BEGIN IMMEDIATE takes the write lock: it fails here, with a clear error, for a file we
    // can read but not write, instead of at the user's first edit.
    if (!q.exec(QStringLiteral("BEGIN IMMEDIATE"))) {
        return storageError(SyncDatabase::tr("The database %1 cannot be written.").arg(path),
                            q.lastError());
    }
    for (int version = found.userVersion; version < SyncDatabase::SchemaVersion; ++version) {
        for (const char *const *sql = migrations[version]; *sql; ++sql) {
            if (!q.exec(QString::fromLatin1(*sql))) {
                const SyncError error = storageError(
                        SyncDatabase::tr("Cannot upgrade the database %1 to schema %2.")
                                .arg(path)
                                .arg(version + 1),
                        q.lastError());
                q.exec(QStringLiteral("ROLLBACK"));
                return error;
            }
        }
        qCDebug(lcStorage) << "migrated" << path << "to schema" << version + 1;
    }
    if (rebuilds) {
        if (!q.exec(QStringLiteral("PRAGMA foreign_key_check")) || q.next()) {
            const SyncError error(SyncError::Storage,
                                  SyncDatabase::tr("Cannot upgrade the database %1: a rebuilt "
                                                   "table lost references.")
                                          .arg(path),
                                  q.lastError().isValid() ? q.lastError().text()
                                                          : q.record().value(0).toString());
            q.finish();
            q.exec(QStringLiteral("ROLLBACK"));
            return error;
        }
        q.finish();
    }
    // Written only when they change, so that opening a current file writes nothing to it.
    const bool stamp = found.applicationId != SyncDatabase::ApplicationId
            || found.userVersion != SyncDatabase::SchemaVersion;
    if ((stamp
         && (!q.exec(QStringLiteral("PRAGMA application_id = %1").arg(SyncDatabase::ApplicationId))
             || !q.exec(QStringLiteral("PRAGMA user_version = %1")
                                .arg(SyncDatabase::SchemaVersion))))
        || !q.exec(QStringLiteral("COMMIT"))) {
        const SyncError error = storageError(
                SyncDatabase::tr("The database %1 cannot be written.").arg(path), q.lastError());
        q.exec(QStringLiteral("ROLLBACK"));
        return error;
    }
    return SyncError();
}

} // namespace Synq::Storage::Schema
