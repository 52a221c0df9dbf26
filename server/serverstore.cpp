// SPDX-License-Identifier: BSD-3-Clause
#include "serverstore.h"

#include "serverlogging.h"

#include <QtCore/QDateTime>
#include <QtCore/QJsonDocument>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>

#include <atomic>

namespace Synq {
namespace Server {

namespace {

constexpr qint64 SchemaVersion = 2;

/*
    The upgrades of a database made by an older synq-server: a database at schema N runs every
    step with a higher version, in order, inside the transaction (and, on PostgreSQL, under the
    advisory lock) that read its version, so several servers starting on it upgrade it once.
    A released step is never changed; a change of the tables is a new step here and, for new
    databases, in the CREATE TABLE statements of createSchema().
*/
struct SchemaStep
{
    qint64 version; // the schema the step leads to
    const char *sql;
};
constexpr SchemaStep SchemaSteps[] = {
    // 2: the hybrid logical clock stamp of the write that made each record or tombstone
    // (NULL for writes without one, and for every row written before).
    { 2, "ALTER TABLE records ADD COLUMN hlc TEXT" },
};
// Any constant: the advisory lock serializes schema creation of several server processes.
constexpr qint64 SchemaLockKey = 0x53796e71; // "Synq"

// How long a writer waits for another's lock before the request is answered "try again
// later". SYNQ_SERVER_BUSY_TIMEOUT_MS exists for tests that hold a lock on purpose.
int busyTimeoutMs()
{
    bool ok = false;
    const int value = qEnvironmentVariableIntValue("SYNQ_SERVER_BUSY_TIMEOUT_MS", &ok);
    return ok && value > 0 ? value : 10000;
}

QVariant nullText()
{
    return QVariant(QMetaType::fromType<QString>());
}

QString encode(const QJsonObject &object)
{
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

QJsonObject decode(const QString &text)
{
    return QJsonDocument::fromJson(text.toUtf8()).object();
}

QVariant textOrNull(const QString &text)
{
    return text.isEmpty() ? nullText() : QVariant(text);
}

} // namespace

ServerStore::ServerStore(const DatabaseConfig &config) : m_config(config)
{
    static std::atomic<int> counter { 0 };
    m_connectionName = QStringLiteral("synq-server-%1").arg(++counter);
}

ServerStore::~ServerStore()
{
    close();
}

bool ServerStore::exec(const QString &sql)
{
    if (m_config.driver != DatabaseConfig::Postgres) {
        // SQLite prepares transaction control like any statement: reuse it (PostgreSQL
        // prepares only queries and data changes).
        QSqlQuery &query = statement(sql);
        if (!query.exec())
            return fail(sql.section(QLatin1Char(' '), 0, 2), query);
        return true;
    }
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    if (!query.exec(sql))
        return fail(sql.section(QLatin1Char(' '), 0, 2), query);
    return true;
}

QSqlQuery &ServerStore::statement(const QString &sql)
{
    auto it = m_statements.find(sql);
    if (it == m_statements.end()) {
        QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
        query.setForwardOnly(true);
        query.prepare(sql); // a failure shows when it runs
        it = m_statements.emplace(sql, query).first;
    }
    return it->second;
}

bool ServerStore::fail(const QString &what, const QSqlQuery &query)
{
    m_lastError = QStringLiteral("%1: %2").arg(what, query.lastError().text());
    m_suspect = true;
    qCWarning(lcServer, "database error: %s", qPrintable(m_lastError));
    return false;
}

bool ServerStore::open()
{
    close();
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(m_config.driver == DatabaseConfig::Sqlite
                                                            ? QStringLiteral("QSQLITE")
                                                            : QStringLiteral("QPSQL"),
                                                    m_connectionName);
        if (!db.isValid()) {
            m_lastError = QStringLiteral("the Qt SQL driver for %1 is not installed%2")
                                  .arg(m_config.driver == DatabaseConfig::Sqlite
                                               ? QStringLiteral("SQLite")
                                               : QStringLiteral("PostgreSQL"),
                                       m_config.driver == DatabaseConfig::Postgres
                                               ? QStringLiteral(" (Debian: libqt6sql6-psql)")
                                               : QString());
            return false;
        }
        if (m_config.driver == DatabaseConfig::Sqlite) {
            db.setDatabaseName(m_config.path);
            // Writers of other processes on the same file wait this long for the lock.
            db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(busyTimeoutMs()));
        } else {
            db.setHostName(m_config.host);
            db.setPort(m_config.port);
            db.setUserName(m_config.user);
            db.setPassword(m_config.password);
            db.setDatabaseName(m_config.name);
            QString options = QStringLiteral("connect_timeout=10");
            if (!m_config.connectOptions.isEmpty())
                options += QLatin1Char(';') + m_config.connectOptions;
            db.setConnectOptions(options);
        }
        if (!db.open()) {
            m_lastError = db.lastError().text();
            return false;
        }
    }
    m_suspect = false;
    if (m_config.driver == DatabaseConfig::Sqlite) {
        QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
        if (!query.exec(QStringLiteral("PRAGMA journal_mode=WAL")) || !query.next()
            || query.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive)) {
            m_lastError = QStringLiteral("cannot switch %1 to WAL: %2")
                                  .arg(m_config.path, query.lastError().text());
            return false;
        }
        // Acknowledged pushes must survive a power loss, not only a crash.
        if (!exec(QStringLiteral("PRAGMA synchronous=FULL")))
            return false;
    }
    if (!createSchema())
        return false;
    if (m_config.driver == DatabaseConfig::Postgres) {
        qint64 rows = 0;
        if (readRowEstimate(&rows) && rows < 0)
            refreshStatistics(); // never analyzed: a fresh table, cheap
        else
            m_analyzeAfter = 1000 + qMax<qint64>(rows, 0) / 5;
    }
    return true;
}

/*
    PostgreSQL plans the record lookup (owner, collection, key) from the table's statistics.
    A table that was never analyzed has none, and the planner then picks the feed index
    (owner, collection, version) as readily as the primary key — and scans a whole collection
    for every mutation: pushes got slower with every row until autovacuum came by, a minute
    later. So the server analyzes the records table itself: at start when it never was, and
    after 1,000 + 20 % of the rows it had were written through this connection (autovacuum
    waits for 50 + 10 %, but only looks once a minute).
*/
void ServerStore::noteWritten()
{
    if (m_config.driver == DatabaseConfig::Postgres)
        ++m_writtenSinceAnalyze;
}

bool ServerStore::readRowEstimate(qint64 *rows)
{
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    if (!query.exec(QStringLiteral("SELECT reltuples::bigint FROM pg_class"
                                   " WHERE oid = to_regclass('records')"))
        || !query.next()) {
        qCWarning(lcServer, "cannot read the size of the records table: %s",
                  qPrintable(query.lastError().text()));
        return false;
    }
    *rows = query.value(0).toLongLong();
    return true;
}

void ServerStore::refreshStatistics()
{
    m_writtenSinceAnalyze = 0;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    qint64 rows = 0;
    if (!query.exec(QStringLiteral("ANALYZE records"))) {
        // Plans stay as they were; autovacuum will still come. Not a reason to fail a push.
        qCWarning(lcServer, "ANALYZE records failed: %s", qPrintable(query.lastError().text()));
    } else if (readRowEstimate(&rows)) {
        qCDebug(lcServer, "analyzed the records table: about %lld rows", rows);
    }
    m_analyzeAfter = 1000 + qMax<qint64>(rows, 0) / 5;
}

void ServerStore::close()
{
    if (!QSqlDatabase::contains(m_connectionName)) {
        m_statements.clear();
        return;
    }
    {
        QSqlDatabase db = QSqlDatabase::database(m_connectionName, false);
        if (m_inTransaction)
            rollback();
        m_statements.clear(); // before the connection goes
        db.close();
    }
    QSqlDatabase::removeDatabase(m_connectionName);
}

bool ServerStore::createSchema()
{
    const bool postgres = m_config.driver == DatabaseConfig::Postgres;
    if (!exec(postgres ? QStringLiteral("BEGIN") : QStringLiteral("BEGIN IMMEDIATE")))
        return false;
    QStringList statements;
    if (postgres) {
        // Session settings: no NOTICE chatter on stderr ("already exists, skipping"), and a
        // writer waits for the counter row at most as long as SQLite's busy timeout.
        statements << QStringLiteral("SET client_min_messages TO warning")
                   << QStringLiteral("SET lock_timeout TO %1").arg(busyTimeoutMs())
                   << QStringLiteral("SELECT pg_advisory_xact_lock(%1)").arg(SchemaLockKey);
        if (!m_config.schema.isEmpty()) {
            // The name passed the identifier rule (serveroptions.cpp) and is quoted as well.
            statements << QStringLiteral("CREATE SCHEMA IF NOT EXISTS \"%1\"").arg(m_config.schema)
                       << QStringLiteral("SET search_path TO \"%1\"").arg(m_config.schema);
        }
    }
    statements << QStringLiteral("CREATE TABLE IF NOT EXISTS records ("
                                 " owner TEXT NOT NULL,"
                                 " collection TEXT NOT NULL,"
                                 " key TEXT NOT NULL,"
                                 " version BIGINT NOT NULL,"
                                 " data TEXT,"
                                 " deleted INTEGER NOT NULL DEFAULT 0,"
                                 " updated_at BIGINT NOT NULL,"
                                 " hlc TEXT,"
                                 " PRIMARY KEY (owner, collection, key))")
               << QStringLiteral("CREATE INDEX IF NOT EXISTS records_feed"
                                 " ON records (owner, collection, version)")
               << QStringLiteral("CREATE INDEX IF NOT EXISTS records_tombstones"
                                 " ON records (deleted, updated_at)")
               << QStringLiteral("CREATE TABLE IF NOT EXISTS seen_mutations ("
                                 " owner TEXT NOT NULL,"
                                 " mutation_id TEXT NOT NULL,"
                                 " result TEXT NOT NULL,"
                                 " created_at BIGINT NOT NULL,"
                                 " PRIMARY KEY (owner, mutation_id))")
               << QStringLiteral("CREATE TABLE IF NOT EXISTS counter ("
                                 " id INTEGER PRIMARY KEY,"
                                 " value BIGINT NOT NULL)")
               << QStringLiteral("CREATE TABLE IF NOT EXISTS meta ("
                                 " name TEXT PRIMARY KEY,"
                                 " value BIGINT NOT NULL)")
               << QStringLiteral("INSERT INTO counter (id, value) VALUES (1, 0)"
                                 " ON CONFLICT DO NOTHING")
               << QStringLiteral("INSERT INTO meta (name, value) VALUES ('pruned_version', 0)"
                                 " ON CONFLICT DO NOTHING")
               << QStringLiteral("INSERT INTO meta (name, value) VALUES ('schema_version', %1)"
                                 " ON CONFLICT DO NOTHING")
                          .arg(SchemaVersion);
    for (const QString &sql : std::as_const(statements)) {
        if (!exec(sql)) {
            exec(QStringLiteral("ROLLBACK"));
            return false;
        }
    }
    {
        QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
        if (!query.exec(QStringLiteral("SELECT value FROM meta WHERE name = 'schema_version'"))
            || !query.next()) {
            fail(QStringLiteral("reading the schema version"), query);
            query.finish();
            exec(QStringLiteral("ROLLBACK"));
            return false;
        }
        const qint64 found = query.value(0).toLongLong();
        query.finish();
        if (found > SchemaVersion) {
            exec(QStringLiteral("ROLLBACK"));
            m_lastError = QStringLiteral("the database was made by a newer synq-server (schema %1, "
                                         "this one knows %2)")
                                  .arg(found)
                                  .arg(SchemaVersion);
            return false;
        }
        if (found < SchemaVersion && !upgradeSchema(found)) {
            exec(QStringLiteral("ROLLBACK"));
            return false;
        }
    }
    if (!exec(QStringLiteral("COMMIT"))) {
        exec(QStringLiteral("ROLLBACK"));
        return false;
    }
    return true;
}

// Runs the SchemaSteps above schema from, inside createSchema()'s transaction.
bool ServerStore::upgradeSchema(qint64 from)
{
    for (const SchemaStep &step : SchemaSteps) {
        if (step.version <= from)
            continue;
        if (!exec(QString::fromLatin1(step.sql)))
            return false;
    }
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    query.prepare(QStringLiteral("UPDATE meta SET value = ? WHERE name = 'schema_version'"));
    query.addBindValue(SchemaVersion);
    if (!query.exec())
        return fail(QStringLiteral("recording the schema version"), query);
    qCInfo(lcServer, "upgraded the database from schema %lld to %lld", from, SchemaVersion);
    return true;
}

bool ServerStore::ensureConnection()
{
    if (!m_suspect)
        return true;
    // After a failure, a connection to PostgreSQL may be gone for good: probe, and reconnect.
    QSqlQuery probe(QSqlDatabase::database(m_connectionName, false));
    if (probe.exec(QStringLiteral("SELECT 1"))) {
        m_suspect = false;
        return true;
    }
    probe = QSqlQuery();
    qCWarning(lcServer, "reconnecting to %s", qPrintable(m_config.describe()));
    if (!open()) {
        m_suspect = true;
        return false;
    }
    return true;
}

bool ServerStore::beginWrite()
{
    Q_ASSERT(!m_inTransaction);
    if (!ensureConnection())
        return false;
    const bool postgres = m_config.driver == DatabaseConfig::Postgres;
    if (!exec(postgres ? QStringLiteral("BEGIN") : QStringLiteral("BEGIN IMMEDIATE")))
        return false;
    m_inTransaction = true;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    // PostgreSQL: the row lock of this UPDATE is held until commit, so writers serialize here.
    // SQLite: BEGIN IMMEDIATE already holds the database's write lock.
    const QString sql = postgres
            ? QStringLiteral("UPDATE counter SET value = value WHERE id = 1 RETURNING value")
            : QStringLiteral("SELECT value FROM counter WHERE id = 1");
    if (!query.exec(sql) || !query.next()) {
        fail(QStringLiteral("taking the version counter"), query);
        query.finish();
        rollback();
        return false;
    }
    m_txStartVersion = m_txVersion = query.value(0).toLongLong();
    m_txTime = QDateTime::currentMSecsSinceEpoch();
    return true;
}

qint64 ServerStore::nextVersion()
{
    Q_ASSERT(m_inTransaction);
    return ++m_txVersion;
}

bool ServerStore::commit()
{
    Q_ASSERT(m_inTransaction);
    if (m_txVersion != m_txStartVersion) {
        QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
        query.prepare(QStringLiteral("UPDATE counter SET value = ? WHERE id = 1"));
        query.addBindValue(m_txVersion);
        if (!query.exec()) {
            fail(QStringLiteral("advancing the version counter"), query);
            query.finish();
            rollback();
            return false;
        }
    }
    if (!exec(QStringLiteral("COMMIT"))) {
        rollback();
        return false;
    }
    m_inTransaction = false;
    if (m_config.driver == DatabaseConfig::Postgres && m_writtenSinceAnalyze >= m_analyzeAfter)
        refreshStatistics();
    return true;
}

void ServerStore::rollback()
{
    if (!m_inTransaction)
        return;
    m_inTransaction = false;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    if (!query.exec(QStringLiteral("ROLLBACK")))
        m_suspect = true;
}

bool ServerStore::savepoint()
{
    Q_ASSERT(m_inTransaction);
    m_savepointVersion = m_txVersion;
    return exec(QStringLiteral("SAVEPOINT synq_tx"));
}

bool ServerStore::releaseSavepoint()
{
    Q_ASSERT(m_inTransaction);
    return exec(QStringLiteral("RELEASE SAVEPOINT synq_tx"));
}

bool ServerStore::rollbackToSavepoint()
{
    Q_ASSERT(m_inTransaction);
    m_txVersion = m_savepointVersion;
    return exec(QStringLiteral("ROLLBACK TO SAVEPOINT synq_tx"))
            && exec(QStringLiteral("RELEASE SAVEPOINT synq_tx"));
}

bool ServerStore::findResult(const QString &owner, const QString &mutationId,
                             std::optional<QJsonObject> *result)
{
    QSqlQuery &query = statement(QStringLiteral(
            "SELECT result FROM seen_mutations WHERE owner = ? AND mutation_id = ?"));
    query.bindValue(0, owner);
    query.bindValue(1, mutationId);
    if (!query.exec())
        return fail(QStringLiteral("looking up a mutation id"), query);
    if (query.next())
        *result = decode(query.value(0).toString());
    else
        result->reset();
    query.finish();
    return true;
}

bool ServerStore::rememberResult(const QString &owner, const QString &mutationId,
                                 const QJsonObject &result)
{
    QSqlQuery &query = statement(QStringLiteral("INSERT INTO seen_mutations (owner, mutation_id, "
                                                "result, created_at) VALUES (?, ?, ?, ?)"));
    query.bindValue(0, owner);
    query.bindValue(1, mutationId);
    query.bindValue(2, encode(result));
    query.bindValue(3, m_txTime);
    if (!query.exec())
        return fail(QStringLiteral("remembering a mutation id"), query);
    return true;
}

bool ServerStore::loadRecord(const QString &owner, const QString &collection, const QString &key,
                             StoredRecord *record)
{
    if (!m_inTransaction && !ensureConnection())
        return false;
    QSqlQuery &query = statement(QStringLiteral("SELECT version, deleted, data, hlc FROM records"
                                                " WHERE owner = ? AND collection = ? AND key = ?"));
    query.bindValue(0, owner);
    query.bindValue(1, collection);
    query.bindValue(2, key);
    if (!query.exec())
        return fail(QStringLiteral("reading a record"), query);
    *record = StoredRecord();
    if (query.next()) {
        record->exists = true;
        record->version = query.value(0).toLongLong();
        record->deleted = query.value(1).toInt() != 0;
        if (!record->deleted)
            record->data = decode(query.value(2).toString());
        record->hlc = query.value(3).toString(); // NULL: empty
    }
    query.finish();
    return true;
}

bool ServerStore::writeRecord(const QString &owner, const QString &collection, const QString &key,
                              qint64 version, const QJsonObject *data, const QString &hlc)
{
    Q_ASSERT(m_inTransaction);
    QSqlQuery &query = statement(QStringLiteral(
            "INSERT INTO records (owner, collection, key, version, data, deleted, updated_at, hlc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (owner, collection, key) DO UPDATE SET version = excluded.version,"
            " data = excluded.data, deleted = excluded.deleted, updated_at = excluded.updated_at,"
            " hlc = excluded.hlc"));
    query.bindValue(0, owner);
    query.bindValue(1, collection);
    query.bindValue(2, key);
    query.bindValue(3, version);
    query.bindValue(4, data ? QVariant(encode(*data)) : nullText());
    query.bindValue(5, data ? 0 : 1);
    query.bindValue(6, m_txTime);
    query.bindValue(7, textOrNull(hlc));
    if (!query.exec())
        return fail(QStringLiteral("writing a record"), query);
    noteWritten();
    return true;
}

bool ServerStore::currentVersion(qint64 *version)
{
    if (!ensureConnection())
        return false;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    if (!query.exec(QStringLiteral("SELECT value FROM counter WHERE id = 1")) || !query.next())
        return fail(QStringLiteral("reading the version counter"), query);
    *version = query.value(0).toLongLong();
    return true;
}

bool ServerStore::prunedVersion(qint64 *version)
{
    if (!ensureConnection())
        return false;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    if (!query.exec(QStringLiteral("SELECT value FROM meta WHERE name = 'pruned_version'"))
        || !query.next())
        return fail(QStringLiteral("reading the pruned version"), query);
    *version = query.value(0).toLongLong();
    return true;
}

bool ServerStore::readChanges(const QString &owner, const QString &collection, qint64 after,
                              qint64 upTo, int limit, bool liveOnly, QList<StoredChange> *changes)
{
    if (!ensureConnection())
        return false;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    query.setForwardOnly(true);
    query.prepare(QStringLiteral("SELECT key, version, deleted, data, hlc FROM records"
                                 " WHERE owner = ? AND collection = ? AND version > ?"
                                 " AND version <= ?%1 ORDER BY version LIMIT ?")
                          .arg(liveOnly ? QStringLiteral(" AND deleted = 0") : QString()));
    query.addBindValue(owner);
    query.addBindValue(collection);
    query.addBindValue(after);
    query.addBindValue(upTo);
    query.addBindValue(limit);
    if (!query.exec())
        return fail(QStringLiteral("reading changes"), query);
    changes->clear();
    while (query.next()) {
        StoredChange change;
        change.key = query.value(0).toString();
        change.version = query.value(1).toLongLong();
        change.deleted = query.value(2).toInt() != 0;
        if (!change.deleted)
            change.data = decode(query.value(3).toString());
        change.hlc = query.value(4).toString();
        changes->append(std::move(change));
    }
    return true;
}

bool ServerStore::hasChanges(const QString &owner, const QString &collection, qint64 after,
                             qint64 upTo, bool *result)
{
    if (!ensureConnection())
        return false;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    query.prepare(QStringLiteral("SELECT 1 FROM records WHERE owner = ? AND collection = ?"
                                 " AND version > ? AND version <= ? LIMIT 1"));
    query.addBindValue(owner);
    query.addBindValue(collection);
    query.addBindValue(after);
    query.addBindValue(upTo);
    if (!query.exec())
        return fail(QStringLiteral("reading changes"), query);
    *result = query.next();
    return true;
}

bool ServerStore::pruneTombstones(qint64 cutoffMs, int *removed, qint64 *prunedUpTo)
{
    *removed = 0;
    *prunedUpTo = 0;
    if (!ensureConnection())
        return false;
    const QString maxSql = QStringLiteral(
            "SELECT MAX(version) FROM records WHERE deleted = 1 AND updated_at <= ?");
    {
        // A cheap look first: most passes find nothing and need no write lock.
        QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
        query.prepare(maxSql);
        query.addBindValue(cutoffMs);
        if (!query.exec() || !query.next())
            return fail(QStringLiteral("looking for old tombstones"), query);
        if (query.value(0).isNull())
            return true;
    }
    const bool postgres = m_config.driver == DatabaseConfig::Postgres;
    if (!exec(postgres ? QStringLiteral("BEGIN") : QStringLiteral("BEGIN IMMEDIATE")))
        return false;
    m_inTransaction = true;
    qint64 highest = 0;
    {
        QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
        query.prepare(maxSql);
        query.addBindValue(cutoffMs);
        if (!query.exec() || !query.next()) {
            fail(QStringLiteral("looking for old tombstones"), query);
            query.finish();
            rollback();
            return false;
        }
        highest = query.value(0).toLongLong();
    }
    if (highest > 0) {
        QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
        // "version <= highest": a tombstone written meanwhile is not pruned unrecorded.
        query.prepare(QStringLiteral("DELETE FROM records WHERE deleted = 1 AND updated_at <= ?"
                                     " AND version <= ?"));
        query.addBindValue(cutoffMs);
        query.addBindValue(highest);
        if (!query.exec()) {
            fail(QStringLiteral("pruning tombstones"), query);
            rollback();
            return false;
        }
        *removed = query.numRowsAffected();
        QSqlQuery meta(QSqlDatabase::database(m_connectionName, false));
        meta.prepare(QStringLiteral("UPDATE meta SET value = ? WHERE name = 'pruned_version'"
                                    " AND value < ?"));
        meta.addBindValue(highest);
        meta.addBindValue(highest);
        if (!meta.exec()) {
            fail(QStringLiteral("recording the pruned version"), meta);
            rollback();
            return false;
        }
    }
    m_inTransaction = false;
    if (!exec(QStringLiteral("COMMIT"))) {
        m_inTransaction = true;
        rollback();
        return false;
    }
    *prunedUpTo = highest;
    return true;
}

} // namespace Server
} // namespace Synq
