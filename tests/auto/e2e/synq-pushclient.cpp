// SPDX-License-Identifier: BSD-3-Clause
// A client process for tst_e2e's kill test: it edits and syncs at the same time until killed.
//
//   synq-pushclient <db> <url> <count>
//
// Makes <count> mutations on "todos" (inserts, and updates of its own rows), one every few
// milliseconds, while autoSync pushes them. Each mutation prints "OK <op> <key>" once the call
// returned (so it is durable). After the last one it syncs until the outbox is empty and prints
// "DONE"; with <count> 0 it only does the latter.

#include <synq/httptransport.h>
#include <synq/synccollection.h>
#include <synq/syncengine.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QRandomGenerator>
#include <QtCore/QTimer>

#include <cstdio>

namespace {

void say(const QString &line)
{
    const QByteArray bytes = line.toUtf8() + '\n';
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
    std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 4) {
        std::fprintf(stderr, "usage: synq-pushclient <db> <url> <count>\n");
        return 2;
    }
    Synq::SyncEngine engine;
    engine.setDatabasePath(args.at(1));
    Synq::HttpTransport transport;
    transport.setUrl(QUrl(args.at(2)));
    transport.setBatchSize(10);
    if (!engine.open())
        return 1;
    engine.setTransport(&transport);
    Synq::SyncCollection todos(&engine, QStringLiteral("todos"), { QStringLiteral("title") });

    const int count = args.at(3).toInt();
    int made = 0;
    QTimer editor;
    editor.setInterval(2);
    QObject::connect(&editor, &QTimer::timeout, &app, [&] {
        if (made >= count) {
            editor.stop();
            return;
        }
        auto *random = QRandomGenerator::global();
        Synq::Transaction *t = nullptr;
        QString op;
        if (todos.count() > 0 && random->bounded(3) == 0) {
            const QString key = todos.get(int(random->bounded(todos.count())))
                                        .value(QStringLiteral("key"))
                                        .toString();
            t = todos.update(key, QVariantMap { { QStringLiteral("title"), QStringLiteral("edit %1").arg(made) } });
            op = QStringLiteral("update");
        } else {
            t = todos.insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("item %1").arg(made) } });
            op = QStringLiteral("insert");
        }
        if (!t) {
            say(QStringLiteral("ERR"));
            QCoreApplication::exit(3);
            return;
        }
        say(QStringLiteral("OK %1 %2").arg(op, t->key()));
        ++made;
    });
    // Done when every mutation is made and the outbox is empty; runs retry with backoff.
    QTimer watcher;
    watcher.setInterval(20);
    QObject::connect(&watcher, &QTimer::timeout, &app, [&] {
        if (made >= count && engine.status()->pendingCount() == 0 && !engine.status()->isSyncing()) {
            say(QStringLiteral("DONE"));
            QCoreApplication::quit();
        } else if (made >= count && !engine.status()->isSyncing()) {
            engine.syncNow();
        }
    });
    editor.start();
    watcher.start();
    return app.exec();
}
