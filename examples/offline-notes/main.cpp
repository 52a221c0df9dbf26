// SPDX-License-Identifier: BSD-3-Clause
// offline-notes: optimistic edits that survive a restart.
//
//   offline-notes demo [DB]      run the whole story: a first process edits, a second one
//                                 (a real new process) opens the same file and finds it all
//   offline-notes add DB TEXT    add a note
//   offline-notes done DB KEY    mark a note done
//   offline-notes remove DB KEY  remove a note
//   offline-notes list DB        show the notes and the outbox
//
// There is no server yet: every change stays in the outbox, pending, and nothing is lost.

#include <synq/synccollection.h>
#include <synq/syncengine.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QDir>
#include <QtCore/QMetaEnum>
#include <QtCore/QProcess>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTextStream>

#include <cstdio>

namespace {

QTextStream &out()
{
    static QTextStream stream(stdout);
    return stream;
}

struct Notes
{
    explicit Notes(const QString &path)
    {
        engine.setDatabasePath(path);
        QObject::connect(&engine, &Synq::SyncEngine::errorOccurred,
                         [](const Synq::SyncError &e) {
                             QTextStream(stderr) << "error: " << e.message() << Qt::endl;
                         });
        ok = engine.open();
        notes.setFields({ QStringLiteral("text"), QStringLiteral("done") });
        notes.setName(QStringLiteral("notes"));
        notes.setEngine(&engine);
    }
    Synq::SyncEngine engine;
    Synq::SyncCollection notes;
    bool ok = false;
};

QString stateName(int state)
{
    return QString::fromLatin1(QMetaEnum::fromType<Synq::SyncCollection::SyncState>().valueToKey(state));
}

void list(Notes &n)
{
    out() << "notes (" << n.notes.count() << "):\n";
    for (int i = 0; i < n.notes.count(); ++i) {
        const QVariantMap row = n.notes.get(i);
        out() << "  [" << (row.value(QStringLiteral("done")).toBool() ? 'x' : ' ') << "] "
              << row.value(QStringLiteral("text")).toString() << "  ("
              << stateName(row.value(QStringLiteral("syncState")).toInt()) << ", "
              << row.value(QStringLiteral("pendingTransactions")).toInt() << " pending, key "
              << row.value(QStringLiteral("key")).toString().left(13) << "...)\n";
    }
    const QList<Synq::Transaction *> pending = n.engine.transactions();
    out() << "outbox (" << pending.size() << " transactions, waiting for a backend):\n";
    for (Synq::Transaction *t : pending) {
        QStringList ops;
        for (const QVariant &m : t->mutations())
            ops << m.toMap().value(QStringLiteral("type")).toString();
        out() << "  " << t->stateName() << "  " << ops.join(QLatin1Char('+')) << "  "
              << t->createdAt().toString(Qt::ISODateWithMs) << '\n';
    }
    out().flush();
}

int demo(const QString &path)
{
    const QString self = QCoreApplication::applicationFilePath();
    auto run = [&](const QStringList &args) {
        QProcess p;
        p.setProcessChannelMode(QProcess::ForwardedChannels);
        p.start(self, args);
        if (!p.waitForFinished(30000) || p.exitStatus() != QProcess::NormalExit)
            return -1;
        return p.exitCode();
    };
    out() << "Process 1 (pid " << QCoreApplication::applicationPid() << ") edits offline, "
          << "database " << path << "\n";
    {
        Notes n(path);
        if (!n.ok)
            return 1;
        Synq::Transaction *milk = n.notes.insert(QVariantMap { { QStringLiteral("text"), QStringLiteral("Buy milk") } });
        Synq::Transaction *call = n.notes.insert(QVariantMap { { QStringLiteral("text"), QStringLiteral("Call Anna") } });
        n.notes.insert(QVariantMap { { QStringLiteral("text"), QStringLiteral("Water the plants") } });
        if (!milk || !call)
            return 1;
        n.notes.update(milk->key(), QVariantMap { { QStringLiteral("done"), true } });
        n.notes.remove(call->key());
        out() << "Each change was in SQLite, with its outbox entry, before the call returned.\n";
        list(n);
    }
    out() << "\nProcess 1 is gone. A new process opens the same file:\n";
    out().flush();
    return run({ QStringLiteral("list"), path }) == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments().mid(1);
    const QString command = args.value(0);

    if (command == QLatin1String("demo")) {
        QTemporaryDir tmp;
        const QString path = args.size() > 1 ? args.at(1)
                                             : QDir(tmp.path()).filePath(QStringLiteral("notes.sqlite"));
        return demo(path);
    }
    if (args.size() < 2) {
        QTextStream(stderr) << "usage: offline-notes demo [DB] | add DB TEXT | done DB KEY | "
                               "remove DB KEY | list DB\n";
        return 2;
    }
    Notes n(args.at(1));
    if (!n.ok)
        return 1;
    if (command == QLatin1String("list")) {
        out() << "Process (pid " << QCoreApplication::applicationPid() << ") opened " << args.at(1)
              << '\n';
        list(n);
        return 0;
    }
    if (args.size() < 3)
        return 2;
    Synq::Transaction *t = nullptr;
    if (command == QLatin1String("add"))
        t = n.notes.insert(QVariantMap { { QStringLiteral("text"), args.at(2) } });
    else if (command == QLatin1String("done"))
        t = n.notes.update(args.at(2), QVariantMap { { QStringLiteral("done"), true } });
    else if (command == QLatin1String("remove"))
        t = n.notes.remove(args.at(2));
    if (!t)
        return 1;
    out() << t->key() << '\n';
    return 0;
}
