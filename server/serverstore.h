// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SERVERSTORE_H
#define SYNQ_SERVERSTORE_H

#include "serveroptions.h"

#include <synq/pushrules.h>

#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtSql/QSqlQuery>

#include <map>

#include <optional>

QT_FORWARD_DECLARE_CLASS(QSqlQuery)

namespace Synq {
namespace Server {

struct StoredRecord
{
    bool exists = false; // a live record or a tombstone
    bool deleted = false;
    qint64 version = 0;
    QJsonObject data;
    QString hlc; // the stamp of the write that made this state; empty: the write had none

    bool isLive() const { return exists && !deleted; }
    // What the push and fetch rules decide on.
    PushRules::RecordState state() const
    {
        if (!exists)
            return PushRules::RecordState::missing();
        if (deleted)
            return PushRules::RecordState::removed(version);
        return PushRules::RecordState::live(version, data);
    }
};

struct StoredChange
{
    QString key;
    qint64 version = 0;
    bool deleted = false;
    QJsonObject data;
    QString hlc;
};

/*
    All of synq-server's SQL, on SQLite (one WAL file) or PostgreSQL (QPSQL).

    Tables: records (owner, collection, key, version, data, deleted, updated_at, hlc) keyed by
    (owner, collection, key) and indexed by (owner, collection, version) for the change feed;
    seen_mutations (owner, mutation_id, result) for idempotency; counter, the one row holding
    the last version handed out; meta (pruned_version, schema_version). open() creates what is
    missing and upgrades a database of an older schema (see createSchema()); it refuses one of
    a newer schema.

    Versions: a write transaction first takes the counter row — BEGIN IMMEDIATE on SQLite,
    UPDATE ... RETURNING on PostgreSQL, whose row lock is held until commit — so writers,
    also those of other server processes, serialize on it. Hence a transaction that got a
    higher version commits after every transaction that got a lower one, and a reader that
    reads the counter first and then the changes up to it never misses one that commits later.

    Every call returns false on a database failure, with lastError() set; the caller answers
    "try again later".
*/
class ServerStore
{
public:
    explicit ServerStore(const DatabaseConfig &config);
    ~ServerStore();
    ServerStore(const ServerStore &) = delete;
    ServerStore &operator=(const ServerStore &) = delete;

    bool open();
    void close();
    QString lastError() const { return m_lastError; }

    // One write transaction at a time; inside it, savepoints (not nested) for its parts.
    bool beginWrite();
    qint64 nextVersion();
    bool commit();
    void rollback();
    bool savepoint();
    bool releaseSavepoint();
    bool rollbackToSavepoint(); // also takes back the versions handed out since savepoint()

    bool findResult(const QString &owner, const QString &mutationId,
                    std::optional<QJsonObject> *result);
    bool rememberResult(const QString &owner, const QString &mutationId,
                        const QJsonObject &result);
    bool loadRecord(const QString &owner, const QString &collection, const QString &key,
                    StoredRecord *record);
    // data == nullptr writes a tombstone. hlc is the write's stamp (empty: none, stored NULL).
    bool writeRecord(const QString &owner, const QString &collection, const QString &key,
                     qint64 version, const QJsonObject *data, const QString &hlc);

    // Reads, outside write transactions.
    bool currentVersion(qint64 *version);
    bool prunedVersion(qint64 *version);
    // Changes with after < version <= upTo in version order, at most limit of them.
    bool readChanges(const QString &owner, const QString &collection, qint64 after, qint64 upTo,
                     int limit, bool liveOnly, QList<StoredChange> *changes);
    bool hasChanges(const QString &owner, const QString &collection, qint64 after, qint64 upTo,
                    bool *result);

    // Deletes tombstones written at or before cutoffMs (ms since the epoch) and raises the
    // pruned version to the highest version deleted.
    bool pruneTombstones(qint64 cutoffMs, int *removed, qint64 *prunedUpTo);

private:
    bool exec(const QString &sql);
    // A prepared statement of this connection, made once and reused (re-preparing the same
    // statements was half the cost of a push).
    QSqlQuery &statement(const QString &sql);
    bool fail(const QString &what, const QSqlQuery &query);
    bool ensureConnection();
    bool createSchema();
    bool upgradeSchema(qint64 from);
    void noteWritten();
    bool readRowEstimate(qint64 *rows);
    void refreshStatistics();

    DatabaseConfig m_config;
    QString m_connectionName;
    QString m_lastError;
    bool m_suspect = false; // a statement failed: check the connection before the next use
    bool m_inTransaction = false;
    qint64 m_txStartVersion = 0;
    qint64 m_txVersion = 0;
    qint64 m_savepointVersion = 0;
    qint64 m_txTime = 0;
    std::map<QString, QSqlQuery> m_statements;
    // PostgreSQL: records written since this connection last ran ANALYZE, and how many make
    // the next one due (see noteWritten()).
    qint64 m_writtenSinceAnalyze = 0;
    qint64 m_analyzeAfter = 0;
};

} // namespace Server
} // namespace Synq

#endif
