// SPDX-License-Identifier: BSD-3-Clause
// When a collection's stored rows arrive: in QML when the engine's component is complete (so
// Component.onCompleted sees them), in C++ at open() or first use — announced at most once,
// as one model reset when the collection first fills, and never as a reset inside a
// mutation call.

#include <synq/synccollection.h>
#include <synq/syncengine.h>

#include <QtCore/QEventLoop>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtQml/QQmlComponent>
#include <QtQml/QQmlEngine>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Synq;

namespace {

// Runs the event loop until everything posted so far (the engine's first-turn open among it)
// has run.
void runPostedEvents()
{
    QEventLoop loop;
    QTimer::singleShot(0, &loop, &QEventLoop::quit);
    loop.exec();
}

// The signals a view would see from the collection while it starts.
struct StartSignals
{
    explicit StartSignals(SyncCollection *c)
        : resets(c, &QAbstractItemModel::modelReset), inserts(c, &QAbstractItemModel::rowsInserted)
    {
    }
    QSignalSpy resets;
    QSignalSpy inserts;
};

// A collection set up the way an app writes it: fields, name and engine one by one.
void setUpInSteps(SyncCollection *todos, SyncEngine *engine)
{
    todos->setFields({ QStringLiteral("title") });
    todos->setName(QStringLiteral("todos"));
    todos->setEngine(engine);
}

} // namespace

class tst_CollectionOpening : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();

    void qmlEngineOpensWhenItsComponentIsComplete_data();
    void qmlEngineOpensWhenItsComponentIsComplete();
    void emptyCollectionAnnouncesNothingWhileStarting();
    void mutationBeforeTheOpenInsertsTheStoredRows();
    void rowsStoredBeforeAnOpenInCppResetOnce();

private:
    // Writes `rows` items into todos of a fresh file and closes it.
    void storeRows(int rows);
    std::unique_ptr<QObject> createQml(QQmlEngine *engine, SyncCollection **todos,
                                       std::unique_ptr<StartSignals> *signals_,
                                       std::unique_ptr<QAbstractItemModelTester> *tester);

    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_path;
};

void tst_CollectionOpening::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_path = m_dir->filePath(QStringLiteral("app.sqlite"));
}

void tst_CollectionOpening::storeRows(int rows)
{
    SyncEngine engine;
    engine.setDatabasePath(m_path);
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), { QStringLiteral("title") });
    for (int i = 0; i < rows; ++i)
        QVERIFY(todos.insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("t%1").arg(i) } }));
}

// The app's component, created in two steps so that spies are attached before it completes.
std::unique_ptr<QObject>
tst_CollectionOpening::createQml(QQmlEngine *engine, SyncCollection **todos,
                                 std::unique_ptr<StartSignals> *signals_,
                                 std::unique_ptr<QAbstractItemModelTester> *tester)
{
    QQmlComponent component(engine);
    component.setData(QStringLiteral(R"(
        import QtQml
        import Synq
        QtObject {
            property int countAtCompleted: -1
            property string firstTitleAtCompleted
            property SyncCollection todos: SyncCollection {
                engine: theEngine
                name: "todos"
                fields: ["title"]
            }
            property SyncEngine theEngine: SyncEngine { databasePath: "%1" }
            Component.onCompleted: {
                countAtCompleted = todos.count
                firstTitleAtCompleted = todos.count > 0 ? todos.get(0).title : ""
            }
        })").arg(m_path).toUtf8(),
                      QUrl());
    std::unique_ptr<QObject> root(component.beginCreate(engine->rootContext()));
    if (!root) {
        qWarning() << component.errors();
        return nullptr;
    }
    *todos = root->property("todos").value<SyncCollection *>();
    if (*todos) {
        *signals_ = std::make_unique<StartSignals>(*todos);
        *tester = std::make_unique<QAbstractItemModelTester>(
                *todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    }
    component.completeCreate();
    return root;
}

void tst_CollectionOpening::qmlEngineOpensWhenItsComponentIsComplete_data()
{
    QTest::addColumn<int>("stored");
    QTest::newRow("a database with three rows fills the collection once") << 3;
    QTest::newRow("an empty database announces nothing") << 0;
}

void tst_CollectionOpening::qmlEngineOpensWhenItsComponentIsComplete()
{
    QFETCH(int, stored);
    storeRows(stored);
    QQmlEngine engine;
    SyncCollection *todos = nullptr;
    std::unique_ptr<StartSignals> seen;
    std::unique_ptr<QAbstractItemModelTester> tester;
    const std::unique_ptr<QObject> root = createQml(&engine, &todos, &seen, &tester);
    QVERIFY(root);
    QVERIFY(todos);
    // Component.onCompleted ran after the engine opened.
    QCOMPARE(root->property("countAtCompleted").toInt(), stored);
    if (stored > 0)
        QCOMPARE(root->property("firstTitleAtCompleted").toString(), QStringLiteral("t0"));
    // The event loop's first turn (where a C++ engine opens) changes nothing.
    runPostedEvents();
    QCOMPARE(todos->count(), stored);
    QCOMPARE(seen->resets.size(), stored > 0 ? 1 : 0);
    QCOMPARE(seen->inserts.size(), 0);
    // The first change is an insert of one row, nothing else.
    QVERIFY(todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("new") } }));
    QCOMPARE(seen->resets.size(), stored > 0 ? 1 : 0);
    QCOMPARE(seen->inserts.size(), 1);
    QCOMPARE(seen->inserts.constFirst().at(1).toInt(), stored);
}

void tst_CollectionOpening::emptyCollectionAnnouncesNothingWhileStarting()
{
    // C++, in the order an app writes it, then open.
    SyncEngine engine;
    engine.setDatabasePath(m_path);
    SyncCollection todos;
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    StartSignals seen(&todos);
    setUpInSteps(&todos, &engine);
    QVERIFY(engine.open());
    runPostedEvents();
    todos.setFields({ QStringLiteral("title"), QStringLiteral("done") });
    QCOMPARE(seen.resets.size(), 0);
    QCOMPARE(seen.inserts.size(), 0);
    QCOMPARE(todos.count(), 0);
}

void tst_CollectionOpening::mutationBeforeTheOpenInsertsTheStoredRows()
{
    storeRows(2);
    SyncEngine engine;
    engine.setDatabasePath(m_path);
    SyncCollection todos(&engine, QStringLiteral("todos"), { QStringLiteral("title") });
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    StartSignals seen(&todos);
    QVERIFY(!engine.isReady()); // it would open at the first event-loop turn
    QVERIFY(todos.insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("new") } }));
    QVERIFY(engine.isReady());
    QCOMPARE(seen.resets.size(), 0); // never a reset inside a mutation call
    QCOMPARE(todos.count(), 3);
    QCOMPARE(seen.inserts.size(), 2);
    QCOMPARE(seen.inserts.at(0).at(1).toInt(), 0); // the stored rows
    QCOMPARE(seen.inserts.at(0).at(2).toInt(), 1);
    QCOMPARE(seen.inserts.at(1).at(1).toInt(), 2); // the new one
    QCOMPARE(todos.get(2).value(QStringLiteral("title")).toString(), QStringLiteral("new"));
    runPostedEvents();
    QCOMPARE(seen.resets.size(), 0);
    QCOMPARE(todos.count(), 3);
}

void tst_CollectionOpening::rowsStoredBeforeAnOpenInCppResetOnce()
{
    storeRows(2);
    SyncEngine engine;
    engine.setDatabasePath(m_path);
    SyncCollection todos;
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    StartSignals seen(&todos);
    setUpInSteps(&todos, &engine);
    QCOMPARE(seen.resets.size(), 0);
    QTRY_VERIFY(engine.isReady()); // the first event-loop turn opened it
    QCOMPARE(todos.count(), 2);
    QCOMPARE(seen.resets.size(), 1);
    runPostedEvents();
    QCOMPARE(seen.resets.size(), 1);
}

QTEST_GUILESS_MAIN(tst_CollectionOpening)
#include "tst_collectionopening.moc"
