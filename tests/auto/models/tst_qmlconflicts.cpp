// SPDX-License-Identifier: BSD-3-Clause
// Conflicts from QML, in a real QML engine with the Synq module from the build tree: a
// SyncCollection whose resolveConflict JavaScript function decides, and a ConflictModel that
// lists a Manual conflict and resolves it — against TestBackend, which C++ hands to the engine.
#include <synq/conflictmodel.h>
#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/testbackend.h>
#include <synq/transaction.h>

#include <QtCore/QTemporaryDir>
#include <QtQml/QQmlComponent>
#include <QtQml/QQmlEngine>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Synq;
using Synq::Testing::TestBackend;

namespace {

constexpr int Timeout = 10000;

QString s(const char *text)
{
    return QString::fromUtf8(text);
}

QVariantMap note(const char *body, const char *title = "t")
{
    return { { s("id"), s("n") }, { s("title"), s(title) }, { s("body"), s(body) } };
}

} // namespace

class tst_QmlConflicts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void resolveConflictFunctionDecides_data();
    void resolveConflictFunctionDecides();
    void conflictModelResolvesFromQml();

private:
    // The scene: an engine, the "notes" collection (with `extra` QML on it) and a
    // ConflictModel; n synced at version 1; then n's body is changed locally to "mine" while
    // the server's becomes "theirs".
    void load(const QByteArray &extra);
    void conflict();

    QTemporaryDir m_dir;
    std::unique_ptr<TestBackend> m_backend;
    std::unique_ptr<QQmlEngine> m_qml;
    std::unique_ptr<QObject> m_root;
    SyncEngine *m_engine = nullptr;
    SyncCollection *m_notes = nullptr;
    ConflictModel *m_conflicts = nullptr;
    Transaction *m_change = nullptr;
};

void tst_QmlConflicts::init()
{
    m_backend = std::make_unique<TestBackend>();
    m_qml = std::make_unique<QQmlEngine>();
}

void tst_QmlConflicts::cleanup()
{
    m_root.reset();
    m_qml.reset();
    m_backend.reset();
}

void tst_QmlConflicts::load(const QByteArray &extra)
{
    static int serial = 0;
    const QByteArray qml = "import QtQml\nimport Synq\nQtObject {\n"
                           "  property SyncEngine appEngine: SyncEngine { databasePath: \""
            + m_dir.filePath(QStringLiteral("c%1.sqlite").arg(++serial)).toUtf8()
            + "\" }\n"
              "  property SyncCollection notes: SyncCollection {\n"
              "    engine: appEngine; name: \"notes\"; fields: [\"title\", \"body\"]\n"
            + extra
            + "\n  }\n"
              "  property ConflictModel conflicts: ConflictModel { engine: appEngine }\n"
              "}\n";
    QQmlComponent component(m_qml.get());
    component.setData(qml, QUrl());
    m_root.reset(component.create());
    QVERIFY2(m_root, qPrintable(component.errorString()));
    m_engine = m_root->property("appEngine").value<SyncEngine *>();
    m_notes = m_root->property("notes").value<SyncCollection *>();
    m_conflicts = m_root->property("conflicts").value<ConflictModel *>();
    QVERIFY(m_engine && m_notes && m_conflicts);
    m_engine->setTransport(m_backend->transport());
}

void tst_QmlConflicts::conflict()
{
    const qint64 v = m_backend->emitUpdate(s("notes"), note("base"));
    QTRY_COMPARE_WITH_TIMEOUT(m_notes->getByKey(s("n")).value(s("version")).toLongLong(), v,
                              Timeout);
    m_backend->setOffline(true);
    m_change = m_notes->update(s("n"), QVariantMap{ { s("body"), s("mine") } });
    QVERIFY(m_change);
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    m_backend->injectConflict(s("notes"), s("n"), note("theirs", "server title"));
    m_backend->setOffline(false);
    m_engine->syncNow();
}

void tst_QmlConflicts::resolveConflictFunctionDecides_data()
{
    QTest::addColumn<QByteArray>("function");
    QTest::addColumn<int>("outcome");
    QTest::addColumn<QVariantMap>("server"); // the server's record afterwards (empty: deleted)
    QTest::newRow("a merged object is sent")
            << QByteArray("(local, server, base) => Object.assign({}, server,"
                          " { body: base.body + '|' + server.body + '|' + local.body })")
            << int(Transaction::RebaseAndRetry) << note("base|theirs|mine", "server title");
    QTest::newRow("the server's record lets it stand")
            << QByteArray("(local, server, base) => server") << int(Transaction::AdoptServer)
            << note("theirs", "server title");
    QTest::newRow("null removes the item") << QByteArray("(local, server, base) => null")
                                           << int(Transaction::RebaseAndRetry) << QVariantMap();
    QTest::newRow("undefined leaves it to the app")
            << QByteArray("(local, server, base) => undefined") << int(Transaction::ManualRequired)
            << note("theirs", "server title");
}

void tst_QmlConflicts::resolveConflictFunctionDecides()
{
    QFETCH(QByteArray, function);
    QFETCH(int, outcome);
    QFETCH(QVariantMap, server);
    load("    conflictPolicy: SyncCollection.Custom\n    resolveConflict: " + function);
    if (QTest::currentTestFailed())
        return;
    QAbstractItemModelTester tester(m_notes,
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    conflict();
    if (QTest::currentTestFailed())
        return;
    QTRY_COMPARE_WITH_TIMEOUT(int(m_change->conflictOutcome()), outcome, Timeout);
    if (outcome == Transaction::ManualRequired) {
        QTRY_COMPARE_WITH_TIMEOUT(m_conflicts->count(), 1, Timeout);
        QCOMPARE(m_notes->getByKey(s("n")).value(s("syncState")).toInt(),
                 int(SyncCollection::Conflict));
    } else {
        QTRY_COMPARE_WITH_TIMEOUT(m_change->state(), Transaction::Completed, Timeout);
        QCOMPARE(m_conflicts->count(), 0);
    }
    QCOMPARE(m_backend->record(s("notes"), s("n")).toVariantMap(), server);
}

void tst_QmlConflicts::conflictModelResolvesFromQml()
{
    load("    conflictPolicy: SyncCollection.Manual");
    if (QTest::currentTestFailed())
        return;
    QAbstractItemModelTester tester(m_conflicts,
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    conflict();
    if (QTest::currentTestFailed())
        return;
    QTRY_COMPARE_WITH_TIMEOUT(m_conflicts->count(), 1, Timeout);

    // What a delegate reads, and a resolution the way a button's onClicked makes it.
    QQmlComponent probe(m_qml.get());
    probe.setData("import QtQml\nQtObject {\n  property var model\n"
                  "  function read() { const c = model.get(0);"
                  " return [c.key, c.local.body, c.server.body, c.base.body].join(',') }\n"
                  "  function merge() { const c = model.get(0);"
                  " return model.resolveWith(c.conflictId,"
                  " { title: c.server.title, body: c.server.body + '+' + c.local.body }) }\n}\n",
                  QUrl());
    std::unique_ptr<QObject> p(probe.create());
    QVERIFY2(p, qPrintable(probe.errorString()));
    p->setProperty("model", QVariant::fromValue(m_conflicts));
    QVariant read;
    QVERIFY(QMetaObject::invokeMethod(p.get(), "read", Q_RETURN_ARG(QVariant, read)));
    QCOMPARE(read.toString(), s("n,mine,theirs,base"));
    QCOMPARE(m_conflicts->roleNames().value(ConflictModel::LocalRole), QByteArray("local"));
    QVariant merged;
    QVERIFY(QMetaObject::invokeMethod(p.get(), "merge", Q_RETURN_ARG(QVariant, merged)));
    QVERIFY(merged.toBool());
    QCOMPARE(m_conflicts->count(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(m_change->state(), Transaction::Completed, Timeout);
    QCOMPARE(m_backend->record(s("notes"), s("n")).toVariantMap(),
             note("theirs+mine", "server title"));
    QTRY_COMPARE_WITH_TIMEOUT(m_notes->getByKey(s("n")).value(s("body")).toString(),
                              s("theirs+mine"), Timeout);
}

QTEST_MAIN(tst_QmlConflicts)
#include "tst_qmlconflicts.moc"
