// SPDX-License-Identifier: BSD-3-Clause
//
// T6: what one process stored, the next process sees: the same rows in the same order with the
// same meta roles, and the same pending transactions in the same states. Every writer and
// reader is a separate synq-testclient process on one database file.

#include "clientdump.h"

#include <synq/synccollection.h>
#include <synq/syncdatabase.h>
#include <synq/syncengine.h>
#include <synq/transaction.h>

#include <QtCore/QFileInfo>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtCore/QTemporaryDir>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Synq;

namespace {

// A row as the backend last sent it: written straight into the items table, with no outbox
// entry, the way a pull leaves it.
struct SyncedRow
{
    QString key;
    QString title;
    qint64 version = 0;
};

struct Run
{
    int exitCode = -1;
    QStringList ok; // "OK <txid> <op> <keys...>" lines
    QStringList dump; // ROW, TX and END lines
    QString errors; // ERR lines and stderr
};

// "a Milk open Pending optimistic pending=1 v0"
QString summary(const QString &rowLine)
{
    const QJsonObject row =
            QJsonDocument::fromJson(rowLine.mid(4).toUtf8()).object(); // after "ROW "
    const QJsonObject fields = row.value(QStringLiteral("fields")).toObject();
    const int state = row.value(QStringLiteral("syncState")).toInt();
    return QStringLiteral("%1 %2 %3 %4 %5 pending=%6 v%7")
            .arg(row.value(QStringLiteral("key")).toString(),
                 fields.value(QStringLiteral("title")).toString(),
                 fields.value(QStringLiteral("done")).toBool() ? QStringLiteral("done")
                                                                : QStringLiteral("open"),
                 state == int(SyncCollection::Synced)        ? QStringLiteral("Synced")
                         : state == int(SyncCollection::Pending) ? QStringLiteral("Pending")
                                                                 : QString::number(state),
                 row.value(QStringLiteral("isOptimistic")).toBool() ? QStringLiteral("optimistic")
                                                                    : QStringLiteral("synced"))
            .arg(row.value(QStringLiteral("pendingTransactions")).toInt())
            .arg(row.value(QStringLiteral("version")).toInteger());
}

QStringList summaries(const QStringList &dump)
{
    QStringList out;
    for (const QString &line : dump) {
        if (line.startsWith(QLatin1String("ROW ")))
            out.append(summary(line));
    }
    return out;
}

QStringList transactionLines(const QStringList &dump)
{
    QStringList out;
    for (const QString &line : dump) {
        if (line.startsWith(QLatin1String("TX ")))
            out.append(line);
    }
    return out;
}

} // namespace

Q_DECLARE_METATYPE(QList<SyncedRow>)
Q_DECLARE_METATYPE(QList<QStringList>)

class tst_Restart : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void nextProcessSeesTheSameState_data();
    void nextProcessSeesTheSameState();
    void generatedKeysSurviveRestart();
    void refusedChangeLeavesNothingForTheNextProcess();

private:
    QString path() const { return m_dir->filePath(QStringLiteral("synq.sqlite")); }
    Run runClient(const QStringList &arguments);
    void seed(const QList<SyncedRow> &rows);
    void verifyInProcess(const QStringList &expectedDump);

    std::unique_ptr<QTemporaryDir> m_dir;
};

void tst_Restart::initTestCase()
{
    QVERIFY2(QFileInfo(QStringLiteral(SYNQ_TESTCLIENT)).isExecutable(), SYNQ_TESTCLIENT);
}

void tst_Restart::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY2(m_dir->isValid(), qPrintable(m_dir->errorString()));
}

void tst_Restart::cleanup()
{
    m_dir.reset();
    QVERIFY2(QSqlDatabase::connectionNames().isEmpty(),
             qPrintable(QSqlDatabase::connectionNames().join(QLatin1String(", "))));
}

Run tst_Restart::runClient(const QStringList &arguments)
{
    Run run;
    QProcess process;
    process.start(QStringLiteral(SYNQ_TESTCLIENT), QStringList { path() } + arguments);
    if (!process.waitForStarted(10000) || !process.waitForFinished(30000)) {
        process.kill();
        process.waitForFinished(5000);
        run.errors = QStringLiteral("did not finish: ") + process.errorString();
        return run;
    }
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    const QString out = QString::fromUtf8(process.readAllStandardOutput());
    for (const QString &line : out.split(QLatin1Char('\n'), Qt::SkipEmptyParts)) {
        if (line.startsWith(QLatin1String("OK ")))
            run.ok.append(line);
        else if (line.startsWith(QLatin1String("ERR ")))
            run.errors += line + QLatin1Char('\n');
        else
            run.dump.append(line);
    }
    run.errors += QString::fromUtf8(process.readAllStandardError());
    return run;
}

void tst_Restart::seed(const QList<SyncedRow> &rows)
{
    if (rows.isEmpty())
        return;
    {
        SyncDatabase database(path());
        const SyncError error = database.open();
        QVERIFY2(!error.isError(), qPrintable(error.toString()));
    }
    // Removed last, after every handle on it below is gone, whichever way this returns.
    struct Connection
    {
        QString name;
        ~Connection() { QSqlDatabase::removeDatabase(name); }
    } connection { QStringLiteral("tst_restart.seed") };
    const QString &name = connection.name;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(path());
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY(q.prepare(QStringLiteral(
                "INSERT INTO items (ord, collection, scope, key, version, data)"
                " VALUES (?, 'todos', '', ?, ?, ?)")));
        qint64 ord = 0;
        for (const SyncedRow &row : rows) {
            const QJsonObject data { { QStringLiteral("id"), row.key },
                                     { QStringLiteral("title"), row.title },
                                     { QStringLiteral("done"), false } };
            q.addBindValue(++ord);
            q.addBindValue(row.key);
            q.addBindValue(row.version);
            q.addBindValue(QString::fromUtf8(QJsonDocument(data).toJson(QJsonDocument::Compact)));
            QVERIFY2(q.exec(), qPrintable(q.lastError().text()));
        }
    }
}

// A SyncEngine in this very process sees what the last process showed.
void tst_Restart::verifyInProcess(const QStringList &expectedDump)
{
    SyncEngine engine;
    QSignalSpy errors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"),
                         { QStringLiteral("title"), QStringLiteral("done") });
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(SynqTest::dumpLines(engine, todos), expectedDump);
    QCOMPARE(engine.status()->pendingCount(), int(transactionLines(expectedDump).size()));
    for (const Transaction *t : engine.transactions())
        QCOMPARE(t->state(), Transaction::Pending);
    QCOMPARE(errors.count(), 0);
}

void tst_Restart::nextProcessSeesTheSameState_data()
{
    QTest::addColumn<QList<SyncedRow>>("synced");
    QTest::addColumn<QList<QStringList>>("runs"); // one writing process each, in order
    QTest::addColumn<QStringList>("expected"); // summary() of each row, in model order

    const QList<SyncedRow> none;
    const QList<SyncedRow> synced { { QStringLiteral("s1"), QStringLiteral("One"), 3 },
                                    { QStringLiteral("s2"), QStringLiteral("Two"), 5 },
                                    { QStringLiteral("s3"), QStringLiteral("Three"), 8 } };
    const QStringList abc = QStringLiteral("insert-as|a|Milk|insert-as|b|Bread|insert-as|c|Eggs")
                                    .split(QLatin1Char('|'));

    QTest::newRow("inserts made by one process")
            << none << QList<QStringList> { abc }
            << QStringList { QStringLiteral("a Milk open Pending optimistic pending=1 v0"),
                             QStringLiteral("b Bread open Pending optimistic pending=1 v0"),
                             QStringLiteral("c Eggs open Pending optimistic pending=1 v0") };
    QTest::newRow("updates and removes made by a second process")
            << none
            << QList<QStringList> { abc,
                                    { QStringLiteral("update"), QStringLiteral("a"),
                                      QStringLiteral("done"), QStringLiteral("true"),
                                      QStringLiteral("update"), QStringLiteral("b"),
                                      QStringLiteral("title"), QStringLiteral("\"Rye bread\""),
                                      QStringLiteral("remove"), QStringLiteral("c") } }
            << QStringList { QStringLiteral("a Milk done Pending optimistic pending=2 v0"),
                             QStringLiteral("b Rye bread open Pending optimistic pending=2 v0") };
    QTest::newRow("bulk inserts and bulk removes")
            << none
            << QList<QStringList> { { QStringLiteral("insert-many"),
                                      QStringLiteral("a=Milk,b=Bread,c=Eggs,d=Tea") },
                                    { QStringLiteral("remove-many"), QStringLiteral("b,d"),
                                      QStringLiteral("insert-many"),
                                      QStringLiteral("e=Jam,f=Oil") } }
            << QStringList { QStringLiteral("a Milk open Pending optimistic pending=1 v0"),
                             QStringLiteral("c Eggs open Pending optimistic pending=1 v0"),
                             QStringLiteral("e Jam open Pending optimistic pending=1 v0"),
                             QStringLiteral("f Oil open Pending optimistic pending=1 v0") };
    QTest::newRow("a key removed and inserted again moves to the end")
            << none
            << QList<QStringList> { abc,
                                    { QStringLiteral("remove"), QStringLiteral("a") },
                                    { QStringLiteral("insert-as"), QStringLiteral("a"),
                                      QStringLiteral("Oat milk") } }
            << QStringList { QStringLiteral("b Bread open Pending optimistic pending=1 v0"),
                             QStringLiteral("c Eggs open Pending optimistic pending=1 v0"),
                             QStringLiteral("a Oat milk open Pending optimistic pending=3 v0") };
    QTest::newRow("a key removed and inserted again by the same process")
            << none
            << QList<QStringList> { abc
                                    + QStringLiteral("remove|b|insert-as|b|Rye bread")
                                              .split(QLatin1Char('|')) }
            << QStringList { QStringLiteral("a Milk open Pending optimistic pending=1 v0"),
                             QStringLiteral("c Eggs open Pending optimistic pending=1 v0"),
                             QStringLiteral("b Rye bread open Pending optimistic pending=3 v0") };
    QTest::newRow("synced rows with optimistic changes on top")
            << synced
            << QList<QStringList> { { QStringLiteral("update"), QStringLiteral("s1"),
                                      QStringLiteral("title"), QStringLiteral("\"One edited\""),
                                      QStringLiteral("remove"), QStringLiteral("s2"),
                                      QStringLiteral("insert-as"), QStringLiteral("a"),
                                      QStringLiteral("Milk") },
                                    { QStringLiteral("update"), QStringLiteral("s1"),
                                      QStringLiteral("done"), QStringLiteral("true") } }
            << QStringList { QStringLiteral("s1 One edited done Pending optimistic pending=2 v3"),
                             QStringLiteral("s3 Three open Synced synced pending=0 v8"),
                             QStringLiteral("a Milk open Pending optimistic pending=1 v0") };
    QTest::newRow("a synced row removed and inserted again")
            << synced
            << QList<QStringList> { { QStringLiteral("remove"), QStringLiteral("s1") },
                                    { QStringLiteral("insert-as"), QStringLiteral("s1"),
                                      QStringLiteral("One again") } }
            << QStringList { QStringLiteral("s2 Two open Synced synced pending=0 v5"),
                             QStringLiteral("s3 Three open Synced synced pending=0 v8"),
                             QStringLiteral("s1 One again open Pending optimistic pending=2 v3") };
    QTest::newRow("synced rows and no local change")
            << synced << QList<QStringList> { {} }
            << QStringList { QStringLiteral("s1 One open Synced synced pending=0 v3"),
                             QStringLiteral("s2 Two open Synced synced pending=0 v5"),
                             QStringLiteral("s3 Three open Synced synced pending=0 v8") };
}

void tst_Restart::nextProcessSeesTheSameState()
{
    QFETCH(QList<SyncedRow>, synced);
    QFETCH(QList<QStringList>, runs);
    QFETCH(QStringList, expected);

    seed(synced);
    if (QTest::currentTestFailed())
        return;

    QStringList reported; // OK lines of every writer, in order
    Run last;
    for (qsizetype i = 0; i < runs.size(); ++i) {
        QStringList arguments = runs.at(i);
        if (i == runs.size() - 1)
            arguments.append(QStringLiteral("dump")); // what the writer itself shows at the end
        last = runClient(arguments);
        QVERIFY2(last.exitCode == 0, qPrintable(last.errors));
        reported += last.ok;
    }
    QCOMPARE(summaries(last.dump), expected);

    // The writer's pending transactions are the ones it reported, in the order it made them.
    const QStringList transactions = transactionLines(last.dump);
    QCOMPARE(transactions.size(), reported.size());
    for (qsizetype i = 0; i < reported.size(); ++i) {
        const QStringList ok = reported.at(i).split(QLatin1Char(' '));
        const QJsonObject tx =
                QJsonDocument::fromJson(transactions.at(i).mid(3).toUtf8()).object();
        QCOMPARE(tx.value(QStringLiteral("id")).toString(), ok.at(1));
        QCOMPARE(tx.value(QStringLiteral("state")).toString(), QStringLiteral("Pending"));
        QStringList keys;
        for (const QJsonValue &key : tx.value(QStringLiteral("keys")).toArray())
            keys.append(key.toString());
        QCOMPARE(keys, ok.mid(3));
        QCOMPARE(tx.value(QStringLiteral("mutations")).toInt(), int(keys.size()));
    }

    // A fresh process shows exactly what the writer showed.
    const Run reader = runClient({ QStringLiteral("dump") });
    QVERIFY2(reader.exitCode == 0, qPrintable(reader.errors));
    QVERIFY(reader.ok.isEmpty());
    QCOMPARE(reader.dump, last.dump);

    verifyInProcess(reader.dump);
}

void tst_Restart::generatedKeysSurviveRestart()
{
    const Run first = runClient({ QStringLiteral("insert"), QStringLiteral("Milk"),
                                  QStringLiteral("insert"), QStringLiteral("Bread"),
                                  QStringLiteral("insert-many"), QStringLiteral("Eggs,Tea") });
    QVERIFY2(first.exitCode == 0, qPrintable(first.errors));
    QCOMPARE(first.ok.size(), 3);
    const QString milk = first.ok.at(0).split(QLatin1Char(' ')).value(3);
    const QString bread = first.ok.at(1).split(QLatin1Char(' ')).value(3);
    const QStringList bulk = first.ok.at(2).split(QLatin1Char(' ')).mid(3);
    QVERIFY(!milk.isEmpty());
    QVERIFY(!bread.isEmpty());
    QCOMPARE(bulk.size(), 2);

    const Run second = runClient({ QStringLiteral("update"), milk, QStringLiteral("done"),
                                   QStringLiteral("true"), QStringLiteral("remove"), bread,
                                   QStringLiteral("remove"), bulk.at(0), QStringLiteral("dump") });
    QVERIFY2(second.exitCode == 0, qPrintable(second.errors));
    QCOMPARE(second.ok.size(), 3);
    const QStringList expected {
        milk + QStringLiteral(" Milk done Pending optimistic pending=2 v0"),
        bulk.at(1) + QStringLiteral(" Tea open Pending optimistic pending=1 v0"),
    };
    QCOMPARE(summaries(second.dump), expected);
    QCOMPARE(transactionLines(second.dump).size(), 6);

    const Run third = runClient({ QStringLiteral("dump") });
    QVERIFY2(third.exitCode == 0, qPrintable(third.errors));
    QCOMPARE(third.dump, second.dump);
    verifyInProcess(third.dump);
}

void tst_Restart::refusedChangeLeavesNothingForTheNextProcess()
{
    const Run writer = runClient({ QStringLiteral("insert-as"), QStringLiteral("a"),
                                   QStringLiteral("Milk"), QStringLiteral("remove"),
                                   QStringLiteral("zz"), QStringLiteral("insert-as"),
                                   QStringLiteral("b"), QStringLiteral("Bread") });
    QCOMPARE(writer.exitCode, 2); // stops at the refused remove
    QCOMPARE(writer.ok.size(), 1);
    QVERIFY2(writer.errors.contains(QLatin1String("zz")), qPrintable(writer.errors));

    const Run reader = runClient({ QStringLiteral("dump") });
    QVERIFY2(reader.exitCode == 0, qPrintable(reader.errors));
    QCOMPARE(summaries(reader.dump),
             QStringList { QStringLiteral("a Milk open Pending optimistic pending=1 v0") });
    QCOMPARE(transactionLines(reader.dump).size(), 1);
    const QString txid = writer.ok.constFirst().split(QLatin1Char(' ')).at(1);
    QVERIFY(transactionLines(reader.dump).constFirst().contains(txid));
    verifyInProcess(reader.dump);
}

QTEST_GUILESS_MAIN(tst_Restart)
#include "tst_restart.moc"
