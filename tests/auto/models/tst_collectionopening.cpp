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
#include <QtTest/QTest>

#include "modelrecorder.h"

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

using SynqTest::ModelRecorder;

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
                                       std::unique_ptr<ModelRecorder> *recorder,
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
                                 std::unique_ptr<ModelRecorder> *recorder,
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
        *recorder = std::make_unique<ModelRecorder>(*todos);
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
    std::unique_ptr<ModelRecorder> seen;
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
    QCOMPARE(seen->take(), stored > 0 ? QStringList { QStringLiteral("reset") } : QStringList());
    // The first change is an insert of one row, nothing else.
    QVERIFY(todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("new") } }));
    QCOMPARE(seen->structural(), QStringList { QStringLiteral("inserted %1-%1").arg(stored) });
}

void tst_CollectionOpening::emptyCollectionAnnouncesNothingWhileStarting()
{
    // C++, in the order an app writes it, then open.
    SyncEngine engine;
    engine.setDatabasePath(m_path);
    SyncCollection todos;
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    ModelRecorder seen(&todos);
    setUpInSteps(&todos, &engine);
    QVERIFY(engine.open());
    runPostedEvents();
    todos.setFields({ QStringLiteral("title"), QStringLiteral("done") });
    QCOMPARE(seen.events, QStringList());
    QCOMPARE(todos.count(), 0);
}

void tst_CollectionOpening::mutationBeforeTheOpenInsertsTheStoredRows()
{
    storeRows(2);
    SyncEngine engine;
    engine.setDatabasePath(m_path);
    SyncCollection todos(&engine, QStringLiteral("todos"), { QStringLiteral("title") });
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    ModelRecorder seen(&todos);
    QVERIFY(!engine.isReady()); // it would open at the first event-loop turn
    QVERIFY(todos.insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("new") } }));
    QVERIFY(engine.isReady());
    // The stored rows, then the new one; never a reset inside a mutation call.
    QCOMPARE(seen.structural(),
             (QStringList { QStringLiteral("inserted 0-1"), QStringLiteral("inserted 2-2") }));
    QCOMPARE(todos.count(), 3);
    QCOMPARE(todos.get(2).value(QStringLiteral("title")).toString(), QStringLiteral("new"));
    seen.take();
    runPostedEvents();
    QCOMPARE(seen.events, QStringList());
    QCOMPARE(todos.count(), 3);
}

void tst_CollectionOpening::rowsStoredBeforeAnOpenInCppResetOnce()
{
    storeRows(2);
    SyncEngine engine;
    engine.setDatabasePath(m_path);
    SyncCollection todos;
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    ModelRecorder seen(&todos);
    setUpInSteps(&todos, &engine);
    QCOMPARE(seen.events, QStringList());
    QTRY_VERIFY(engine.isReady()); // the first event-loop turn opened it
    QCOMPARE(todos.count(), 2);
    runPostedEvents();
    QCOMPARE(seen.take(), QStringList { QStringLiteral("reset") });
}

QTEST_GUILESS_MAIN(tst_CollectionOpening)
#include "tst_collectionopening.moc"
