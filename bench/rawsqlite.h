// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQBENCH_RAWSQLITE_H
#define SYNQBENCH_RAWSQLITE_H

#include <QtCore/QString>
#include <QtCore/QVariantList>
#include <QtSql/QSqlDatabase>

#include <functional>
#include <memory>

QT_BEGIN_NAMESPACE
class QSqlQuery;
QT_END_NAMESPACE

namespace SynqBench {

/*
    The physical limit beside Synq: the same SQLite library through the same Qt QSQLITE
    driver, opened with the same pragmas as SyncDatabase (WAL, the same synchronous level,
    foreign_keys, a 5 s busy timeout), with prepared statements reused and nothing else.

    The tables hold what any durable offline store must hold: the item under a unique
    (collection, scope, key), and for a local change one outbox row with an idempotency id.

        items  (ord INTEGER PRIMARY KEY, collection, scope, key, version, data,
                UNIQUE (collection, scope, key))
        outbox (seq INTEGER PRIMARY KEY, id UNIQUE, collection, key, data)

    Input is what Synq gets: a QVariantMap per item. The raw path turns it into compact JSON
    (QJsonObject::fromVariantMap + QJsonDocument) and a key (Synq's KeyGenerator) inside the
    timed region, as an application writing SQLite itself would have to.
*/
class RawSqlite
{
public:
    enum class Synchronous { Normal, Full };

    explicit RawSqlite(const QString &path);
    ~RawSqlite();
    RawSqlite(const RawSqlite &) = delete;
    RawSqlite &operator=(const RawSqlite &) = delete;

    bool open(Synchronous synchronous);
    QString errorString() const { return m_error; }
    QSqlDatabase database() const;

    // One local change: BEGIN; upsert the item; append its outbox row; COMMIT.
    bool mutate(const QVariantMap &item);
    // Every item upserted (and, withOutbox, one outbox row each) in ONE transaction. Items
    // with an "id" keep it as their key; the others get a new key.
    bool bulk(const QVariantList &items, bool withOutbox);

    // The pragmas SyncDatabase sets, as SQL (for documentation and the figures' extras).
    static QStringList pragmas(Synchronous synchronous);

private:
    bool fail(const QSqlQuery &q);
    bool write(const QVariantMap &item, bool withOutbox);
    bool inTransaction(const std::function<bool()> &body);

    QString m_path;
    QString m_connection;
    QString m_error;
    std::unique_ptr<QSqlQuery> m_upsert;
    std::unique_ptr<QSqlQuery> m_outbox;
};

} // namespace SynqBench

#endif
