// SPDX-License-Identifier: BSD-3-Clause
#include "rawsqlite.h"

#include <synq/keygenerator.h>

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>

namespace SynqBench {

namespace {

const QString Collection = QStringLiteral("items");
const QString Scope = QStringLiteral("");

} // namespace

RawSqlite::RawSqlite(const QString &path)
    : m_path(path),
      m_connection(QStringLiteral("synq-bench-raw:%1").arg(quintptr(this), 0, 16))
{
}

RawSqlite::~RawSqlite()
{
    m_upsert.reset();
    m_outbox.reset();
    {
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        if (db.isOpen())
            db.close();
    }
    QSqlDatabase::removeDatabase(m_connection);
}

QSqlDatabase RawSqlite::database() const
{
    return QSqlDatabase::database(m_connection, false);
}

QStringList RawSqlite::pragmas(Synchronous synchronous)
{
    return { QStringLiteral("PRAGMA journal_mode = WAL"),
             synchronous == Synchronous::Full ? QStringLiteral("PRAGMA synchronous = FULL")
                                              : QStringLiteral("PRAGMA synchronous = NORMAL"),
             QStringLiteral("PRAGMA foreign_keys = ON") };
}

bool RawSqlite::fail(const QSqlQuery &q)
{
    m_error = q.lastError().text();
    return false;
}

bool RawSqlite::open(Synchronous synchronous)
{
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
    db.setDatabaseName(m_path);
    db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000")); // as SyncDatabase
    if (!db.open()) {
        m_error = db.lastError().text();
        return false;
    }
    QSqlQuery q(db);
    for (const QString &pragma : pragmas(synchronous)) {
        if (!q.exec(pragma))
            return fail(q);
    }
    for (const char *sql :
         { "CREATE TABLE IF NOT EXISTS items (ord INTEGER PRIMARY KEY,"
           " collection TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL,"
           " version INTEGER NOT NULL DEFAULT 0, data TEXT, UNIQUE (collection, scope, key))",
           "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
           " collection TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL)" }) {
        if (!q.exec(QString::fromLatin1(sql)))
            return fail(q);
    }
    m_upsert = std::make_unique<QSqlQuery>(db);
    if (!m_upsert->prepare(QStringLiteral(
                "INSERT INTO items (collection, scope, key, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (collection, scope, key) DO UPDATE SET data = excluded.data")))
        return fail(*m_upsert);
    m_outbox = std::make_unique<QSqlQuery>(db);
    if (!m_outbox->prepare(QStringLiteral(
                "INSERT INTO outbox (id, collection, key, data) VALUES (?, ?, ?, ?)")))
        return fail(*m_outbox);
    return true;
}

bool RawSqlite::write(const QVariantMap &item, bool withOutbox)
{
    QJsonObject object = QJsonObject::fromVariantMap(item);
    QString key = object.value(QLatin1String("id")).toString();
    if (key.isEmpty()) {
        key = Synq::KeyGenerator::global().next();
        object.insert(QLatin1String("id"), key);
    }
    const QString json =
            QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
    m_upsert->bindValue(0, Collection);
    m_upsert->bindValue(1, Scope);
    m_upsert->bindValue(2, key);
    m_upsert->bindValue(3, json);
    if (!m_upsert->exec())
        return fail(*m_upsert);
    if (withOutbox) {
        m_outbox->bindValue(0, Synq::KeyGenerator::global().next());
        m_outbox->bindValue(1, Collection);
        m_outbox->bindValue(2, key);
        m_outbox->bindValue(3, json);
        if (!m_outbox->exec())
            return fail(*m_outbox);
    }
    return true;
}

bool RawSqlite::mutate(const QVariantMap &item)
{
    return inTransaction([&] { return write(item, true); });
}

bool RawSqlite::bulk(const QVariantList &items, bool withOutbox)
{
    return inTransaction([&] {
        for (const QVariant &item : items) {
            if (!write(item.toMap(), withOutbox))
                return false;
        }
        return true;
    });
}

// One SQL transaction around body: committed if it returns true, rolled back otherwise.
bool RawSqlite::inTransaction(const std::function<bool()> &body)
{
    QSqlDatabase db = database();
    if (!db.transaction()) {
        m_error = db.lastError().text();
        return false;
    }
    if (!body()) {
        db.rollback();
        return false;
    }
    if (!db.commit()) {
        m_error = db.lastError().text();
        db.rollback();
        return false;
    }
    return true;
}

} // namespace SynqBench
