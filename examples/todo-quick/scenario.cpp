// SPDX-License-Identifier: BSD-3-Clause
#include "scenario.h"

#include <QtCore/QEventLoop>
#include <QtCore/QMetaEnum>
#include <QtCore/QTextStream>
#include <QtCore/QTimer>

struct Scenario::Replica
{
    Replica(const QString &name, const QUrl &server, const QString &path) : name(name)
    {
        engine.setAutoSync(false); // the scenario says when each replica syncs
        engine.setDatabasePath(path);
        http.setUrl(server);
        engine.open();
        todos.setFields({ QStringLiteral("title"), QStringLiteral("done") });
        todos.setName(QStringLiteral("todos"));
        todos.setEngine(&engine);
    }
    void setOnline(bool online) { engine.setTransport(online ? &http : nullptr); }

    QString name;
    Synq::SyncEngine engine;
    Synq::HttpTransport http;
    Synq::SyncCollection todos;
};

Scenario::Scenario(const QUrl &server, const QString &dataDir)
    : m_a(std::make_unique<Replica>(QStringLiteral("A"), server, dataDir + QStringLiteral("/scenario-a.sqlite"))),
      m_b(std::make_unique<Replica>(QStringLiteral("B"), server, dataDir + QStringLiteral("/scenario-b.sqlite")))
{
}

Scenario::~Scenario() = default;

static QTextStream &out()
{
    static QTextStream stream(stdout);
    return stream;
}

bool Scenario::sync(Replica &replica)
{
    QEventLoop loop;
    bool ok = false;
    QObject::connect(&replica.engine, &Synq::SyncEngine::syncFinished, &loop,
                     [&](const QVariantMap &report) {
                         const auto error = report.value(QStringLiteral("error")).value<Synq::SyncError>();
                         ok = !error.isError();
                         out() << "  " << replica.name << " synced: pushed "
                               << report.value(QStringLiteral("pushed")).toInt() << ", pulled "
                               << report.value(QStringLiteral("pulled")).toInt()
                               << (ok ? QString() : QStringLiteral(", error: ") + error.message()) << '\n';
                         loop.quit();
                     });
    QTimer::singleShot(15000, &loop, &QEventLoop::quit);
    replica.engine.syncNow();
    loop.exec();
    return ok;
}

void Scenario::print(const QString &step)
{
    out() << '\n' << step << '\n';
    const QMetaEnum states = QMetaEnum::fromType<Synq::SyncCollection::SyncState>();
    for (Replica *r : { m_a.get(), m_b.get() }) {
        out() << "  replica " << r->name << " (" << (r->engine.transport() ? "online" : "offline")
              << ", " << r->engine.status()->pendingCount() << " changes waiting)\n";
        for (int i = 0; i < r->todos.count(); ++i) {
            const QVariantMap row = r->todos.get(i);
            out() << "    [" << (row.value(QStringLiteral("done")).toBool() ? 'x' : ' ') << "] "
                  << row.value(QStringLiteral("title")).toString().leftJustified(18)
                  << states.valueToKey(row.value(QStringLiteral("syncState")).toInt())
                  << "  v" << row.value(QStringLiteral("version")).toLongLong() << '\n';
        }
    }
    out().flush();
}

static QStringList contents(Synq::SyncCollection &c)
{
    QStringList rows;
    for (int i = 0; i < c.count(); ++i) {
        const QVariantMap row = c.get(i);
        rows << row.value(QStringLiteral("key")).toString() + row.value(QStringLiteral("title")).toString()
                        + row.value(QStringLiteral("done")).toString()
                        + row.value(QStringLiteral("version")).toString();
    }
    rows.sort();
    return rows;
}

void Scenario::run()
{
    Replica &a = *m_a;
    Replica &b = *m_b;
    a.setOnline(true);
    b.setOnline(true);
    out() << "Two replicas of one to-do list, syncing through " << a.http.url().toString() << '\n';

    a.todos.insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Buy milk") }, { QStringLiteral("done"), false } });
    bool ok = sync(a) && sync(b);
    print(QStringLiteral("1. A adds \"Buy milk\" and syncs; B syncs and has it:"));

    a.setOnline(false);
    const QString milk = a.todos.get(0).value(QStringLiteral("key")).toString();
    a.todos.insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Call Anna") }, { QStringLiteral("done"), false } });
    a.todos.update(milk, QVariantMap { { QStringLiteral("done"), true } });
    b.todos.insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Water plants") }, { QStringLiteral("done"), false } });
    ok = ok && sync(b);
    print(QStringLiteral("2. A goes offline, adds \"Call Anna\" and ticks \"Buy milk\" (shown at once, pending);\n"
                         "   B, online, adds \"Water plants\":"));

    a.setOnline(true);
    ok = ok && sync(a) && sync(b);
    print(QStringLiteral("3. A comes back online and syncs; B syncs:"));

    const bool converged = ok && contents(a.todos) == contents(b.todos) && a.todos.count() == 3
            && a.engine.status()->pendingCount() == 0 && b.engine.status()->pendingCount() == 0;
    out() << '\n' << (converged ? "Converged: both replicas hold the same 3 rows, all synced."
                                : "NOT converged.") << '\n';
    out().flush();
    Q_EMIT finished(converged ? 0 : 1);
}
