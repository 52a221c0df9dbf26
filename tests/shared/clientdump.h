// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTS_CLIENTDUMP_H
#define SYNQ_TESTS_CLIENTDUMP_H

#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/transaction.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QStringList>

namespace SynqTest {

/*
    What a process sees of a database, as text that another process can compare: one
    "ROW <json>" line per visible row of the collection in model order (key, all fields, and
    the meta roles syncState, isOptimistic, pendingTransactions, version), then one
    "TX <json>" line per pending transaction of the engine in commit order (id, state name,
    mutation count, keys), then "END". Used by synq-testclient and by the tests themselves.
*/
inline QStringList dumpLines(const Synq::SyncEngine &engine, const Synq::SyncCollection &todos)
{
    auto compact = [](const QJsonObject &object) {
        return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
    };
    const QStringList meta = Synq::SyncCollection::metaRoleNames();
    QStringList lines;
    for (int row = 0; row < todos.rowCount(); ++row) {
        const QModelIndex index = todos.index(row);
        const QVariantMap item = todos.get(row);
        QJsonObject fields;
        for (auto it = item.cbegin(); it != item.cend(); ++it) {
            if (!meta.contains(it.key()))
                fields.insert(it.key(), QJsonValue::fromVariant(it.value()));
        }
        const QJsonObject line {
            { QStringLiteral("key"), index.data(Synq::SyncCollection::KeyRole).toString() },
            { QStringLiteral("fields"), fields },
            { QStringLiteral("syncState"),
              index.data(Synq::SyncCollection::SyncStateRole).toInt() },
            { QStringLiteral("isOptimistic"),
              index.data(Synq::SyncCollection::IsOptimisticRole).toBool() },
            { QStringLiteral("pendingTransactions"),
              index.data(Synq::SyncCollection::PendingTransactionsRole).toInt() },
            { QStringLiteral("version"),
              index.data(Synq::SyncCollection::VersionRole).toLongLong() },
        };
        lines.append(QStringLiteral("ROW ") + compact(line));
    }
    for (const Synq::Transaction *t : engine.transactions()) {
        const QJsonObject line {
            { QStringLiteral("id"), t->id() },
            { QStringLiteral("state"), t->stateName() },
            { QStringLiteral("mutations"), t->mutationCount() },
            { QStringLiteral("keys"), QJsonArray::fromStringList(t->record().keys()) },
        };
        lines.append(QStringLiteral("TX ") + compact(line));
    }
    lines.append(QStringLiteral("END"));
    return lines;
}

} // namespace SynqTest

#endif
