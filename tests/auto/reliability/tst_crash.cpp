// SPDX-License-Identifier: BSD-3-Clause
//
// Kill -9 at random points of a writer (synq-testclient mutate-forever) and check, after each
// kill, that every change the writer acknowledged is stored with its outbox entry, that the
// items and the outbox agree, and that the file is sound.
//
// Set SYNQ_CRASH_SEED to repeat a run's choices (the kill points still depend on timing).

#include <synq/records.h>
#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/transaction.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QMap>
#include <QtCore/QProcess>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSet>
#include <QtCore/QTemporaryDir>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>
#include <optional>

using namespace Synq;

namespace {

constexpr int Rounds = 50;
constexpr int MaxLinesPerRound = 200;
constexpr qint64 RoundTimeoutMs = 10000;

// One mutation the writer acknowledged: "OK <txid> <op> <key...>".
struct Reported
{
    QString tx;
    QString op;
    QStringList keys;
    QString title; // what an insert or update wrote (see synq-testclient mutateForever)
};

// A transaction as the file holds it.
struct StoredTransaction
{
    qint64 seq = 0;
    int state = -1;
    QList<QPair<int, QString>> mutations; // type, key
    QList<std::optional<QString>> titles; // modified title per mutation; nullopt for remove
};

// The rows two states disagree on, for a readable failure.
QString difference(const QMap<QString, QString> &actual, const QMap<QString, QString> &expected)
{
    QStringList lines;
    QSet<QString> keys(actual.keyBegin(), actual.keyEnd());
    keys.unite(QSet<QString>(expected.keyBegin(), expected.keyEnd()));
    QStringList sorted = keys.values();
    sorted.sort();
    for (const QString &key : std::as_const(sorted)) {
        const QString a = actual.value(key, QStringLiteral("(none)"));
        const QString e = expected.value(key, QStringLiteral("(none)"));
        if (a != e)
            lines.append(QStringLiteral("%1: %2, expected %3").arg(key, a, e));
    }
    return lines.join(QLatin1String("; "));
}

MutationType typeOf(const QString &op)
{
    if (op == QLatin1String("update"))
        return MutationType::Update;
    if (op == QLatin1String("remove"))
        return MutationType::Remove;
    return MutationType::Insert;
}

} // namespace

class tst_Crash : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void killedWriterLosesNothingItAcknowledged();

private:
    // Runs the writer until it has acknowledged `lines` mutations (or the time bound), then
    // kills it with SIGKILL. Returns the acknowledged mutations.
    QList<Reported> runAndKill(quint32 seed, int lines);
    void verifyFile(int round, const QList<Reported> &reportedThisRound);

    QTemporaryDir m_dir;
    QString m_path;
    QList<QString> m_reportedOrder; // every acknowledged transaction id, in order
    QSet<QString> m_reported;
    qint64 m_transactions = 0; // transactions in the file after the last round
    QMap<QString, QString> m_expected; // key -> title, from the acknowledged mutations
    int m_unacknowledged = 0;
};

void tst_Crash::initTestCase()
{
    QVERIFY2(QFileInfo(QStringLiteral(SYNQ_TESTCLIENT)).isExecutable(), SYNQ_TESTCLIENT);
    QVERIFY(m_dir.isValid());
    m_path = m_dir.filePath(QStringLiteral("crash.sqlite"));
}

QList<Reported> tst_Crash::runAndKill(quint32 seed, int lines)
{
    QList<Reported> reported;
    QProcess child;
    child.start(QStringLiteral(SYNQ_TESTCLIENT),
                { m_path, QStringLiteral("mutate-forever"), QStringLiteral("0"),
                  QString::number(seed) });
    if (!child.waitForStarted(10000)) {
        QTest::qFail(qPrintable(QStringLiteral("cannot start the writer: ") + child.errorString()),
                     __FILE__, __LINE__);
        return reported;
    }

    QByteArray out;
    QElapsedTimer timer;
    timer.start();
    while (out.count('\n') < lines && timer.elapsed() < RoundTimeoutMs
           && child.state() == QProcess::Running) {
        child.waitForReadyRead(int(qMax<qint64>(1, RoundTimeoutMs - timer.elapsed())));
        out += child.readAllStandardOutput();
    }
    const bool ranOnItsOwn = child.state() != QProcess::Running;
    child.kill();
    if (!child.waitForFinished(10000)) {
        QTest::qFail("the writer did not die", __FILE__, __LINE__);
        return reported;
    }
    out += child.readAllStandardOutput();
    if (ranOnItsOwn || child.exitStatus() != QProcess::CrashExit) {
        QTest::qFail(qPrintable(QStringLiteral("the writer stopped by itself (exit code %1): %2 %3")
                                        .arg(child.exitCode())
                                        .arg(QString::fromUtf8(out.right(500)),
                                             QString::fromUtf8(child.readAllStandardError()))),
                     __FILE__, __LINE__);
        return reported;
    }
    if (timer.elapsed() >= RoundTimeoutMs)
        qInfo("round hit the time bound after %d lines", int(out.count('\n')));

    // Only whole lines count: a line cut by the kill was never acknowledged.
    const QList<QByteArray> all = out.left(out.lastIndexOf('\n') + 1).split('\n');
    qint64 n = 0;
    for (const QByteArray &raw : all) {
        if (raw.isEmpty())
            continue;
        const QStringList parts = QString::fromUtf8(raw).split(QLatin1Char(' '));
        if (parts.size() < 4 || parts.at(0) != QLatin1String("OK")) {
            QTest::qFail(qPrintable(QStringLiteral("unexpected line: ") + QString::fromUtf8(raw)),
                         __FILE__, __LINE__);
            return reported;
        }
        const QString title = QStringLiteral("s%1-n%2").arg(seed).arg(n++);
        reported.append({ parts.at(1), parts.at(2), parts.mid(3), title });
    }
    return reported;
}

void tst_Crash::verifyFile(int round, const QList<Reported> &reportedThisRound)
{
    // The engine opens the killed writer's file (recovering its WAL) without complaint.
    SyncEngine engine;
    QSignalSpy errors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(m_path);
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"),
                         { QStringLiteral("title"), QStringLiteral("done") });
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);

    // Removed last, after every handle on it below is gone, whichever way this returns.
    struct Connection
    {
        QString name;
        ~Connection() { QSqlDatabase::removeDatabase(name); }
    } connection { QStringLiteral("tst_crash.check.%1").arg(round) };
    const QString &name = connection.name;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(m_path);
        QVERIFY(db.open());
        QSqlQuery q(db);
        auto scalar = [&q](const QString &sql) {
            return q.exec(sql) && q.next() ? q.value(0) : QVariant(q.lastError().text());
        };

        QCOMPARE(scalar(QStringLiteral("PRAGMA integrity_check")).toString(), QStringLiteral("ok"));
        QVERIFY(q.exec(QStringLiteral("PRAGMA foreign_key_check")));
        QVERIFY(!q.next());
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM outbox_mutations m WHERE NOT EXISTS"
                                       " (SELECT 1 FROM transactions t WHERE t.id = m.tx_id)"))
                         .toInt(),
                 0);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM transactions t WHERE NOT EXISTS"
                                       " (SELECT 1 FROM outbox_mutations m WHERE m.tx_id = t.id)"))
                         .toInt(),
                 0);
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM outbox_mutations m WHERE NOT EXISTS"
                                       " (SELECT 1 FROM items i WHERE i.collection = m.collection"
                                       " AND i.scope = m.scope AND i.key = m.key)"))
                         .toInt(),
                 0);

        // The whole outbox, in commit order.
        QHash<QString, StoredTransaction> stored;
        QStringList order;
        QVERIFY(q.exec(QStringLiteral(
                "SELECT t.id, t.seq, t.state, m.type, m.key, m.modified FROM transactions t"
                " JOIN outbox_mutations m ON m.tx_id = t.id ORDER BY t.seq, m.seq")));
        while (q.next()) {
            const QString id = q.value(0).toString();
            if (!stored.contains(id))
                order.append(id);
            StoredTransaction &tx = stored[id];
            tx.seq = q.value(1).toLongLong();
            tx.state = q.value(2).toInt();
            tx.mutations.append({ q.value(3).toInt(), q.value(4).toString() });
            if (q.isNull(5)) {
                tx.titles.append(std::nullopt);
            } else {
                tx.titles.append(QJsonDocument::fromJson(q.value(5).toString().toUtf8())
                                         .object()
                                         .value(QStringLiteral("title"))
                                         .toString());
            }
        }

        // Every acknowledged mutation is there, as it was acknowledged, and still Pending.
        for (const Reported &r : reportedThisRound) {
            QVERIFY2(stored.contains(r.tx), qPrintable(r.tx));
            const StoredTransaction &tx = stored.value(r.tx);
            QCOMPARE(tx.state, int(TransactionState::Pending));
            QCOMPARE(tx.mutations.size(), r.keys.size());
            for (qsizetype i = 0; i < r.keys.size(); ++i) {
                QCOMPARE(tx.mutations.at(i).first, int(typeOf(r.op)));
                QCOMPARE(tx.mutations.at(i).second, r.keys.at(i));
            }
        }
        for (const QString &id : std::as_const(order))
            QCOMPARE(stored.value(id).state, int(TransactionState::Pending));

        // At most one transaction more than acknowledged: the one the kill caught between
        // its commit and its line. It is the last one.
        const qint64 added = order.size() - m_transactions;
        QVERIFY2(added == reportedThisRound.size() || added == reportedThisRound.size() + 1,
                 qPrintable(QStringLiteral("%1 new transactions, %2 acknowledged")
                                    .arg(added)
                                    .arg(reportedThisRound.size())));
        for (qsizetype i = m_transactions; i < order.size(); ++i) {
            const QString &id = order.at(i);
            const bool acknowledged = i - m_transactions < reportedThisRound.size();
            if (acknowledged) {
                QCOMPARE(id, reportedThisRound.at(i - m_transactions).tx);
            } else {
                QCOMPARE(i, qsizetype(order.size() - 1));
                ++m_unacknowledged;
            }
        }
        for (qsizetype i = 0; i < m_reportedOrder.size(); ++i)
            QCOMPARE(order.at(i), m_reportedOrder.at(i)); // earlier rounds are untouched

        // What the acknowledged mutations say each row holds now; the unacknowledged last
        // transaction, if any, applied on top as the file has it.
        for (const Reported &r : reportedThisRound) {
            for (qsizetype i = 0; i < r.keys.size(); ++i) {
                if (r.op == QLatin1String("remove"))
                    m_expected.remove(r.keys.at(i));
                else if (r.op == QLatin1String("insertMany"))
                    m_expected.insert(r.keys.at(i), r.title + QStringLiteral("-%1").arg(i));
                else
                    m_expected.insert(r.keys.at(i), r.title);
            }
            m_reportedOrder.append(r.tx);
        }
        QMap<QString, QString> expected = m_expected;
        if (added > reportedThisRound.size()) {
            const StoredTransaction &last = stored.value(order.constLast());
            for (qsizetype i = 0; i < last.mutations.size(); ++i) {
                if (last.titles.at(i))
                    expected.insert(last.mutations.at(i).second, *last.titles.at(i));
                else
                    expected.remove(last.mutations.at(i).second);
            }
            m_expected = expected; // the next round's writer builds on it
            m_reportedOrder.append(order.constLast());
        }
        m_transactions = order.size();

        // The items hold exactly that, and so does the model, in the same order.
        QMap<QString, QString> items;
        QStringList itemOrder;
        QVERIFY(q.exec(QStringLiteral(
                "SELECT key, local_data FROM items WHERE collection = 'todos'"
                " AND local_deleted = 0 AND deleted = 0 AND local_data IS NOT NULL ORDER BY ord")));
        while (q.next()) {
            itemOrder.append(q.value(0).toString());
            items.insert(q.value(0).toString(),
                         QJsonDocument::fromJson(q.value(1).toString().toUtf8())
                                 .object()
                                 .value(QStringLiteral("title"))
                                 .toString());
        }
        QVERIFY2(items == expected, qPrintable(difference(items, expected)));
        QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM items WHERE local_deleted = 1"
                                       " AND local_data IS NOT NULL"))
                         .toInt(),
                 0);

        todos.fetchAll(); // a reopened collection holds its first rows until asked
        QMap<QString, QString> shown;
        QStringList shownOrder;
        for (int row = 0; row < todos.rowCount(); ++row) {
            const QModelIndex index = todos.index(row);
            shownOrder.append(index.data(SyncCollection::KeyRole).toString());
            shown.insert(shownOrder.constLast(),
                         index.data(SyncCollection::FirstFieldRole).toString());
            QCOMPARE(index.data(SyncCollection::SyncStateRole).toInt(),
                     int(SyncCollection::Pending));
        }
        QVERIFY2(shown == expected, qPrintable(difference(shown, expected)));
        QCOMPARE(shownOrder, itemOrder);
        QCOMPARE(engine.transactions().size(), int(order.size()));
    }
    QCOMPARE(errors.count(), 0);
}

void tst_Crash::killedWriterLosesNothingItAcknowledged()
{
    bool fixed = false;
    const quint32 seed = qEnvironmentVariable("SYNQ_CRASH_SEED").toUInt(&fixed);
    const quint32 used = fixed ? seed : QRandomGenerator::global()->generate();
    qInfo("crash test seed %u (SYNQ_CRASH_SEED=%u repeats the choices)", used, used);
    QRandomGenerator random(used);

    QElapsedTimer total;
    total.start();
    int acknowledged = 0;
    for (int round = 0; round < Rounds; ++round) {
        const quint32 childSeed = random.generate();
        const int lines = random.bounded(1, MaxLinesPerRound + 1);
        const QList<Reported> reported = runAndKill(childSeed, lines);
        if (QTest::currentTestFailed())
            return;
        acknowledged += reported.size();
        verifyFile(round, reported);
        if (QTest::currentTestFailed()) {
            qWarning("round %d (writer seed %u, %d lines) failed", round, childSeed, lines);
            return;
        }
    }
    qInfo("%d rounds, %d acknowledged mutations, %d more caught between commit and "
          "acknowledgement, %d rows, %lld ms",
          Rounds, acknowledged, m_unacknowledged, int(m_expected.size()), total.elapsed());
    QCOMPARE(m_transactions, qint64(acknowledged + m_unacknowledged));
}

QTEST_GUILESS_MAIN(tst_Crash)
#include "tst_crash.moc"
