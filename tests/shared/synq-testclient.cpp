// SPDX-License-Identifier: BSD-3-Clause
//
// A tiny Synq client for the restart (tst_restart) and crash (tst_crash) tests: each run is a
// fresh process on the same database file.
//
//   synq-testclient <db> <command> [args] [<command> [args]] ...
//
// Commands, run in order on collection "todos" (fields title, done):
//   insert <title>                  insert with a generated key
//   insert-as <key> <title>         insert with the given key
//   insert-many <entry>[,<entry>]   one transaction inserting several items; an entry is a
//                                   title, or key=title
//   update <key> <field> <json>     set one field, e.g. update k1 done true
//   remove <key>
//   remove-many <key>[,<key>]       one transaction removing several items
//   dump                            ROW lines (visible rows in model order), TX lines (the
//                                   engine's pending transactions in commit order), then END
//   mutate-forever <count> <seed>   random inserts, updates, removes and insert-manys; count 0
//                                   runs until killed
//
// Every successful mutation prints "OK <txid> <op> <key...>" and flushes stdout before the
// next one starts; a refused one prints "ERR <message>" and ends the process with exit code 2.

#include "clientdump.h"

#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/transaction.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRandomGenerator>
#include <QtCore/QStringList>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

void emitLine(const QString &line)
{
    const QByteArray bytes = line.toUtf8() + '\n';
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
    std::fflush(stdout);
}

[[noreturn]] void die(const QString &message, int code = 2)
{
    emitLine(QStringLiteral("ERR ") + message);
    std::exit(code);
}

class Client
{
public:
    explicit Client(const QString &path)
    {
        QObject::connect(&engine, &Synq::SyncEngine::errorOccurred,
                         [this](const Synq::SyncError &error) { lastError = error; });
        engine.setDatabasePath(path);
        if (!engine.open())
            die(QStringLiteral("open: ") + lastError.message(), 3);
        todos.reset(new Synq::SyncCollection(
                &engine, QStringLiteral("todos"),
                { QStringLiteral("title"), QStringLiteral("done") }));
    }

    void report(Synq::Transaction *t, const QString &op)
    {
        if (!t)
            die(op + QLatin1Char(' ') + lastError.message());
        emitLine(QStringLiteral("OK %1 %2 %3")
                         .arg(t->id(), op, t->record().keys().join(QLatin1Char(' '))));
    }

    void insert(const QString &key, const QString &title)
    {
        QVariantMap item { { QStringLiteral("title"), title },
                           { QStringLiteral("done"), false } };
        if (!key.isEmpty())
            item.insert(QStringLiteral("id"), key);
        report(todos->insert(item), QStringLiteral("insert"));
    }

    // Each entry is a title, or key=title.
    void insertMany(const QStringList &entries)
    {
        QVariantList items;
        for (const QString &entry : entries) {
            const qsizetype equals = entry.indexOf(QLatin1Char('='));
            QVariantMap item { { QStringLiteral("title"), entry.mid(equals + 1) },
                               { QStringLiteral("done"), false } };
            if (equals > 0)
                item.insert(QStringLiteral("id"), entry.left(equals));
            items.append(item);
        }
        report(todos->insertMany(items), QStringLiteral("insertMany"));
    }

    void update(const QString &key, const QString &field, const QVariant &value)
    {
        report(todos->update(key, QVariantMap { { field, value } }), QStringLiteral("update"));
    }

    void remove(const QString &key) { report(todos->remove(key), QStringLiteral("remove")); }

    void removeMany(const QStringList &keys)
    {
        report(todos->removeMany(keys), QStringLiteral("removeMany"));
    }

    void dump()
    {
        for (const QString &line : SynqTest::dumpLines(engine, *todos))
            emitLine(line);
    }

    // The op sequence depends only on the seed and the rows already stored, and every title
    // written is "s<seed>-n<op>" (insertMany: "s<seed>-n<op>-<i>") so the crash test can tell
    // which op wrote which value.
    void mutateForever(qint64 count, quint32 seed)
    {
        QRandomGenerator random(seed);
        for (qint64 n = 0; count == 0 || n < count; ++n) {
            const QString title = QStringLiteral("s%1-n%2").arg(seed).arg(n);
            const int rows = todos->rowCount();
            const int dice = rows == 0 ? random.bounded(2) * 3 : random.bounded(10);
            if (dice < 3) {
                insert(QString(), title);
            } else if (dice < 4) {
                QStringList titles;
                const int many = 2 + random.bounded(3);
                for (int i = 0; i < many; ++i)
                    titles.append(title + QStringLiteral("-%1").arg(i));
                insertMany(titles);
            } else if (dice < 8) {
                const QString key = todos->index(random.bounded(rows))
                                            .data(Synq::SyncCollection::KeyRole)
                                            .toString();
                update(key, QStringLiteral("title"), title);
            } else {
                const QString key = todos->index(random.bounded(rows))
                                            .data(Synq::SyncCollection::KeyRole)
                                            .toString();
                remove(key);
            }
        }
    }

    Synq::SyncEngine engine;
    std::unique_ptr<Synq::SyncCollection> todos;
    Synq::SyncError lastError;
};

QVariant parseJson(const QString &text)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(
            QByteArray("[") + text.toUtf8() + QByteArray("]"), &error);
    if (error.error != QJsonParseError::NoError || doc.array().size() != 1)
        die(QStringLiteral("not a JSON value: ") + text);
    return doc.array().at(0).toVariant();
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QStringList args = app.arguments().mid(1);
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: synq-testclient <db> <command> [args] ...\n");
        return 1;
    }
    Client client(args.takeFirst());

    auto take = [&args](const char *what) {
        if (args.isEmpty())
            die(QStringLiteral("missing ") + QLatin1String(what));
        return args.takeFirst();
    };
    while (!args.isEmpty()) {
        const QString command = args.takeFirst();
        if (command == QLatin1String("insert")) {
            client.insert(QString(), take("title"));
        } else if (command == QLatin1String("insert-as")) {
            const QString key = take("key");
            client.insert(key, take("title"));
        } else if (command == QLatin1String("insert-many")) {
            client.insertMany(take("titles").split(QLatin1Char(',')));
        } else if (command == QLatin1String("update")) {
            const QString key = take("key");
            const QString field = take("field");
            client.update(key, field, parseJson(take("value")));
        } else if (command == QLatin1String("remove")) {
            client.remove(take("key"));
        } else if (command == QLatin1String("remove-many")) {
            client.removeMany(take("keys").split(QLatin1Char(',')));
        } else if (command == QLatin1String("dump")) {
            client.dump();
        } else if (command == QLatin1String("mutate-forever")) {
            bool countOk = false;
            bool seedOk = false;
            const qint64 count = take("count").toLongLong(&countOk);
            const quint32 seed = take("seed").toUInt(&seedOk);
            if (!countOk || !seedOk || count < 0)
                die(QStringLiteral("mutate-forever needs <count> <seed>"));
            client.mutateForever(count, seed);
        } else {
            die(QStringLiteral("unknown command ") + command, 1);
        }
    }
    return 0;
}
