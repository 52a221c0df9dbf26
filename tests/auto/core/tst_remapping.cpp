// SPDX-License-Identifier: BSD-3-Clause
// Synq::Remapping: the relation graph (parsing, parent order, references, orphans) as tables,
// and key changes applied to payloads, mutations, conflicts and rows, as tables and as
// properties of generated key sets and payloads (PropertySeed: SYNQ_PROPERTY_SEED repeats a
// failure).

#include <synq/identifier.h>
#include <synq/remapping.h>

#include <QtCore/QHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSet>
#include <QtTest/QTest>

#include "propertyseed.h"
#include "testprinters.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <tuple>

using namespace Synq;
using namespace Synq::Remapping;

namespace {

using PropertySeed::differences;

/*
    Notation of the tables:
        relations  "todos.projectId>projects! notes.todoId>todos"  ('!': required)
        changes    "projects:p1=s1 todos:c1=s2"  (collection:clientKey=serverKey, either may
                   be empty)
*/

QList<Relation> relations(const QString &text)
{
    QList<Relation> out;
    for (QString word : text.split(u' ', Qt::SkipEmptyParts)) {
        Relation r;
        r.required = word.endsWith(u'!');
        if (r.required)
            word.chop(1);
        const qsizetype dot = word.indexOf(u'.');
        const qsizetype arrow = word.indexOf(u'>');
        if (dot < 0 || arrow < dot)
            qFatal("bad relation in a test table: %s", qPrintable(word));
        r.collection = word.left(dot);
        r.field = word.mid(dot + 1, arrow - dot - 1);
        r.target = word.mid(arrow + 1);
        out.append(r);
    }
    return out;
}

QString describe(const QList<Relation> &list)
{
    QStringList out;
    for (const Relation &r : list)
        out.append(r.from() + u'>' + r.target + (r.required ? QStringLiteral("!") : QString()));
    return out.join(u' ');
}

QList<KeyChange> keyChanges(const QString &text)
{
    QList<KeyChange> out;
    for (const QString &word : text.split(u' ', Qt::SkipEmptyParts)) {
        const qsizetype colon = word.indexOf(u':');
        const qsizetype equals = word.indexOf(u'=');
        if (colon < 0 || equals < colon)
            qFatal("bad key change in a test table: %s", qPrintable(word));
        out.append({ word.left(colon), word.mid(colon + 1, equals - colon - 1),
                     word.mid(equals + 1) });
    }
    return out;
}

QString describe(const QList<KeyChange> &list)
{
    QStringList out;
    for (const KeyChange &c : list)
        out.append(QStringLiteral("%1:%2=%3").arg(c.collection, c.clientKey, c.serverKey));
    return out.join(u' ');
}

// One JSON value from its text.
QJsonValue jsonValue(const QString &text)
{
    QJsonParseError error;
    const QJsonDocument document =
            QJsonDocument::fromJson('[' + text.toUtf8() + ']', &error);
    if (error.error != QJsonParseError::NoError || document.array().size() != 1)
        qFatal("bad JSON in a test table: %s", qPrintable(text));
    return document.array().first();
}

QJsonObject object(const char *text)
{
    return jsonValue(QString::fromUtf8(text)).toObject();
}

QString json(const QJsonValue &value)
{
    const QString text =
            QString::fromUtf8(QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact));
    return text.mid(1, text.size() - 2);
}

QString json(const std::optional<QJsonObject> &record)
{
    return record ? json(QJsonValue(*record)) : QStringLiteral("(none)");
}

QVariantMap entry(const QVariant &from, const QVariant &to)
{
    return { { QStringLiteral("from"), from }, { QStringLiteral("to"), to } };
}

QVariantMap entry(const QVariant &from, const QVariant &to, const QVariant &required)
{
    QVariantMap map = entry(from, to);
    map.insert(QStringLiteral("required"), required);
    return map;
}

MutationRecord mutation(MutationType type, const QString &collection, const QString &key,
                        const QJsonObject &modified, const QJsonObject &changes)
{
    MutationRecord m;
    m.id = QStringLiteral("m1");
    m.transactionId = QStringLiteral("t1");
    m.collection = collection;
    m.key = key;
    m.type = type;
    m.modified = modified;
    m.changes = changes;
    return m;
}

QString differences(const ConflictRecord &a, const ConflictRecord &b)
{
    QStringList out;
    const auto check = [&](bool same, const char *name) {
        if (!same)
            out.append(QString::fromLatin1(name));
    };
    check(a.id == b.id, "id");
    check(a.transactionId == b.transactionId, "transactionId");
    check(a.collection == b.collection, "collection");
    check(a.key == b.key, "key");
    check(a.local == b.local, "local");
    check(a.server == b.server, "server");
    check(a.base == b.base, "base");
    check(a.serverVersion == b.serverVersion, "serverVersion");
    check(a.detectedAt == b.detectedAt, "detectedAt");
    return out.join(QStringLiteral(", "));
}

/*
    Generated key sets. What a set must do is modelled here independently of KeyChanges: a
    change with an empty key on either side, or the same key on both, is no change; a change
    whose server key is the client key of another (real) change is dropped; the rest are kept
    in the given order.
*/
struct KeyModel
{
    QList<KeyChange> given;
    QList<KeyChange> kept;
    QHash<QString, QString> byItem; // itemId(collection, client key) -> server key, kept only
    QHash<QString, QString> byKey; // client key -> server key, kept only
    QStringList clientKeys; // every client key given, kept or not
    QStringList others; // server keys, near misses and other strings
    QStringList numericKeys; // kept client keys that are decimal numbers ("42")

    void build()
    {
        QSet<QString> clientKeys;
        for (const KeyChange &c : std::as_const(given)) {
            if (!c.clientKey.isEmpty() && !c.serverKey.isEmpty() && c.clientKey != c.serverKey)
                clientKeys.insert(c.clientKey);
        }
        for (const KeyChange &c : std::as_const(given)) {
            if (c.clientKey.isEmpty() || c.serverKey.isEmpty() || c.clientKey == c.serverKey
                || clientKeys.contains(c.serverKey)) {
                continue;
            }
            kept.append(c);
            byItem.insert(itemId(c.collection, c.clientKey), c.serverKey);
            byKey.insert(c.clientKey, c.serverKey);
        }
        for (auto it = byKey.cbegin(); it != byKey.cend(); ++it) {
            bool number = false;
            it.key().toInt(&number);
            if (number)
                numericKeys.append(it.key());
        }
        std::sort(numericKeys.begin(), numericKeys.end());
    }
};

const QString Collections[] = { QStringLiteral("todos"), QStringLiteral("projects"),
                                QStringLiteral("users") };

QString pick(QRandomGenerator &random, const QStringList &list)
{
    return list.at(qsizetype(random.bounded(quint32(list.size()))));
}

// A client key as KeyGenerator makes them (a UUIDv7 layout), or now and then a decimal one.
QString randomClientKey(QRandomGenerator &random)
{
    if (random.bounded(8) == 0)
        return QString::number(random.bounded(1, 1000));
    return QStringLiteral("0192%1-%2-7%3-8%4-%5")
            .arg(random.bounded(0x10000u), 4, 16, QLatin1Char('0'))
            .arg(random.bounded(0x10000u), 4, 16, QLatin1Char('0'))
            .arg(random.bounded(0x1000u), 3, 16, QLatin1Char('0'))
            .arg(random.bounded(0x1000u), 3, 16, QLatin1Char('0'))
            .arg(random.generate64() & Q_UINT64_C(0xffffffffffff), 12, 16, QLatin1Char('0'));
}

KeyModel randomKeyChanges(QRandomGenerator &random)
{
    KeyModel model;
    const int count = random.bounded(10) == 0 ? 0 : 1 + int(random.bounded(6));
    QStringList clientKeys;
    while (clientKeys.size() < count) {
        const QString key = randomClientKey(random);
        if (!clientKeys.contains(key))
            clientKeys.append(key);
    }
    for (const QString &clientKey : std::as_const(clientKeys)) {
        KeyChange c;
        c.collection = Collections[random.bounded(3)];
        c.clientKey = clientKey;
        const int kind = int(random.bounded(20));
        if (kind < 3)
            c.serverKey = pick(random, clientKeys); // another's client key (or its own)
        else if (kind == 3)
            c.serverKey = c.clientKey; // no change
        else if (kind == 4)
            c.serverKey = QString(); // no server key
        else
            c.serverKey = QStringLiteral("s%1").arg(random.bounded(100000));
        if (random.bounded(20) == 0)
            c.clientKey.clear();
        model.given.append(c);
        if (random.bounded(10) == 0)
            model.given.append(c); // the same change twice
    }
    model.build();

    model.others = { QString(), QStringLiteral("other"), QStringLiteral("todos"),
                     QStringLiteral("s1") };
    for (const KeyChange &c : std::as_const(model.given)) {
        model.others.append(c.serverKey);
        if (c.clientKey.isEmpty())
            continue;
        model.clientKeys.append(c.clientKey);
        // Near misses: strings that hold a client key but are not one.
        model.others.append(c.clientKey.toUpper());
        model.others.append(c.clientKey + u' ');
        model.others.append(u'x' + c.clientKey);
        model.others.append(itemId(c.collection, c.clientKey));
    }
    return model;
}

// A string for a payload: half of the time a client key (kept or dropped), if there is one.
QString randomString(QRandomGenerator &random, const KeyModel &model)
{
    if (!model.clientKeys.isEmpty() && random.bounded(2) == 0)
        return pick(random, model.clientKeys);
    return pick(random, model.others);
}

QJsonValue randomValue(QRandomGenerator &random, const KeyModel &model, int depth)
{
    static const QStringList names { QStringLiteral("id"), QStringLiteral("title"),
                                     QStringLiteral("ref"), QStringLiteral("tags") };
    switch (random.bounded(depth > 0 ? 9 : 6)) {
    case 0:
        return QJsonValue::Null;
    case 1:
        return random.bounded(2) == 1;
    case 2:
        // A number, sometimes equal to a decimal client key: a number is not a string.
        if (!model.numericKeys.isEmpty() && random.bounded(2) == 0)
            return pick(random, model.numericKeys).toInt();
        return int(random.bounded(-5, 1000));
    case 3:
        return random.bounded(100) / 8.0;
    case 4:
    case 5:
        return randomString(random, model);
    case 6:
    case 7: {
        QJsonObject o;
        const int members = int(random.bounded(5));
        for (int i = 0; i < members; ++i) {
            // Member names may be client keys too: names are never remapped.
            const QString name = random.bounded(4) == 0 ? randomString(random, model)
                                                        : pick(random, names);
            o.insert(name, randomValue(random, model, depth - 1));
        }
        return o;
    }
    default: {
        QJsonArray a;
        const int elements = int(random.bounded(5));
        for (int i = 0; i < elements; ++i)
            a.append(randomValue(random, model, depth - 1));
        return a;
    }
    }
}

QJsonObject randomObject(QRandomGenerator &random, const KeyModel &model)
{
    QJsonValue v;
    do {
        v = randomValue(random, model, 3);
    } while (!v.isObject());
    return v.toObject();
}

// A payload: mostly an object or an array, now and then a single value.
QJsonValue randomPayload(QRandomGenerator &random, const KeyModel &model)
{
    switch (random.bounded(5)) {
    case 0:
        return randomValue(random, model, 0);
    case 1:
        return randomValue(random, model, 4);
    case 2:
    case 3:
        return randomObject(random, model);
    default: {
        QJsonArray a;
        const int elements = 1 + int(random.bounded(4));
        for (int i = 0; i < elements; ++i)
            a.append(randomValue(random, model, 3));
        return a;
    }
    }
}

/*
    What remapping before must give: the same structure (member names, array lengths, every
    non-string value), every string that is a kept client key replaced by its server key, every
    other string as it was, and no kept client key left anywhere. Returns what is wrong.
*/
QString checkRemapped(const QJsonValue &before, const QJsonValue &after, const KeyModel &model,
                      const QString &path)
{
    const QString where = path.isEmpty() ? QStringLiteral("(top)") : path;
    if (before.type() != after.type())
        return QStringLiteral("%1: %2 became %3").arg(where, json(before), json(after));
    switch (before.type()) {
    case QJsonValue::String: {
        const QString expected = model.byKey.value(before.toString(), before.toString());
        if (after.toString() != expected)
            return QStringLiteral("%1: %2 became %3, expected %4")
                    .arg(where, json(before), json(after), json(QJsonValue(expected)));
        if (model.byKey.contains(after.toString()))
            return QStringLiteral("%1: the client key %2 survived").arg(where, json(after));
        return QString();
    }
    case QJsonValue::Object: {
        const QJsonObject a = before.toObject(), b = after.toObject();
        if (a.keys() != b.keys())
            return QStringLiteral("%1: member names changed from %2 to %3")
                    .arg(where, a.keys().join(u','), b.keys().join(u','));
        for (auto it = a.begin(); it != a.end(); ++it) {
            if (QString problem = checkRemapped(it.value(), b.value(it.key()), model,
                                                path + u'.' + it.key());
                !problem.isEmpty()) {
                return problem;
            }
        }
        return QString();
    }
    case QJsonValue::Array: {
        const QJsonArray a = before.toArray(), b = after.toArray();
        if (a.size() != b.size())
            return QStringLiteral("%1: %2 elements became %3")
                    .arg(where)
                    .arg(a.size())
                    .arg(b.size());
        for (qsizetype i = 0; i < a.size(); ++i) {
            if (QString problem = checkRemapped(a.at(i), b.at(i), model,
                                                path + QStringLiteral("[%1]").arg(i));
                !problem.isEmpty()) {
                return problem;
            }
        }
        return QString();
    }
    default:
        if (before != after)
            return QStringLiteral("%1: %2 became %3").arg(where, json(before), json(after));
        return QString();
    }
}

QString checkRemapped(const std::optional<QJsonObject> &before,
                      const std::optional<QJsonObject> &after, const KeyModel &model,
                      const QString &path)
{
    if (before.has_value() != after.has_value())
        return QStringLiteral("%1: %2 became %3").arg(path, json(before), json(after));
    return before ? checkRemapped(QJsonValue(*before), QJsonValue(*after), model, path)
                  : QString();
}

// The relations generated rows are remapped through.
const char GraphText[] = "todos.projectId>projects! todos.ownerId>users todos.parentId>todos "
                         "projects.ownerId>users notes.todoId>todos";

} // namespace

Q_DECLARE_METATYPE(Synq::MutationType)

class tst_Remapping : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void relationForms();
    void parseRelations_data();
    void parseRelations();
    void parentsFirst_data();
    void parentsFirst();
    void referenceKey_data();
    void referenceKey();
    void references_data();
    void references();
    void referencedItems_data();
    void referencedItems();
    void keyChangeSet_data();
    void keyChangeSet();
    void resolve_data();
    void resolve();
    void applyToValue_data();
    void applyToValue();
    void applyToMutation_data();
    void applyToMutation();
    void applyToTransaction();
    void applyToConflict_data();
    void applyToConflict();
    void applyToRow_data();
    void applyToRow();
    void orphans_data();
    void orphans();
    void orphanForm();

    // Properties of generated key sets and payloads.
    void generatedPayloads_data();
    void generatedPayloads();
    void generatedMutationsAndConflicts_data();
    void generatedMutationsAndConflicts();
    void generatedRows_data();
    void generatedRows();
};

void tst_Remapping::relationForms()
{
    const Relation r { QStringLiteral("todos"), QStringLiteral("projectId"),
                       QStringLiteral("projects"), true };
    QCOMPARE(r.from(), QStringLiteral("todos.projectId"));
    const QVariantMap expected { { QStringLiteral("from"), QStringLiteral("todos.projectId") },
                                 { QStringLiteral("to"), QStringLiteral("projects") },
                                 { QStringLiteral("required"), true } };
    QCOMPARE(r.toVariantMap(), expected);

    // The map form parses back to the same relation.
    QString error;
    QCOMPARE(Remapping::parseRelations({ r.toVariantMap() }, &error), QList<Relation> { r });
    QVERIFY(error.isEmpty());

    Relation other = r;
    other.required = false;
    QVERIFY(!(other == r));
}

void tst_Remapping::parseRelations_data()
{
    QTest::addColumn<QVariantList>("entries");
    QTest::addColumn<QString>("expected");
    QTest::addColumn<int>("badEntry"); // -1: none

    const QString todo = QStringLiteral("todos.projectId");
    const QString projects = QStringLiteral("projects");

    QTest::newRow("no entries are no relations") << QVariantList() << QString() << -1;
    QTest::newRow("a required relation")
            << QVariantList { entry(todo, projects, true) } << "todos.projectId>projects!" << -1;
    QTest::newRow("required false") << QVariantList { entry(todo, projects, false) }
                                    << "todos.projectId>projects" << -1;
    QTest::newRow("required defaults to false")
            << QVariantList { entry(todo, projects) } << "todos.projectId>projects" << -1;
    QTest::newRow("several relations keep their order")
            << QVariantList { entry(QStringLiteral("notes.todoId"), QStringLiteral("todos")),
                              entry(todo, projects, true),
                              entry(QStringLiteral("todos.ownerId"), QStringLiteral("users")) }
            << "notes.todoId>todos todos.projectId>projects! todos.ownerId>users" << -1;
    QTest::newRow("two collections may refer to one target")
            << QVariantList { entry(todo, projects),
                              entry(QStringLiteral("notes.projectId"), projects) }
            << "todos.projectId>projects notes.projectId>projects" << -1;
    QTest::newRow("a collection may refer to itself")
            << QVariantList { entry(QStringLiteral("todos.parentId"), QStringLiteral("todos")) }
            << "todos.parentId>todos" << -1;
    QTest::newRow("identifiers with underscores and digits")
            << QVariantList { entry(QStringLiteral("_t2.ref_1"), QStringLiteral("P_3")) }
            << "_t2.ref_1>P_3" << -1;

    // Each bad form: the error names the entry, and nothing is returned.
    QTest::newRow("an entry that is a string")
            << QVariantList { QStringLiteral("todos.projectId") } << QString() << 0;
    QTest::newRow("an entry that is a list")
            << QVariantList { QVariantList { todo, projects } } << QString() << 0;
    QTest::newRow("an entry that is null") << QVariantList { QVariant() } << QString() << 0;
    QTest::newRow("an unknown entry")
            << QVariantList { QVariantMap { { QStringLiteral("from"), todo },
                                            { QStringLiteral("to"), projects },
                                            { QStringLiteral("onDelete"),
                                              QStringLiteral("cascade") } } }
            << QString() << 0;
    QTest::newRow("a misspelt entry")
            << QVariantList { QVariantMap { { QStringLiteral("from"), todo },
                                            { QStringLiteral("target"), projects } } }
            << QString() << 0;
    QTest::newRow("no from") << QVariantList { QVariantMap { { QStringLiteral("to"), projects } } }
                             << QString() << 0;
    QTest::newRow("from without a dot")
            << QVariantList { entry(QStringLiteral("projectId"), projects) } << QString() << 0;
    QTest::newRow("from without a collection")
            << QVariantList { entry(QStringLiteral(".projectId"), projects) } << QString() << 0;
    QTest::newRow("from without a field")
            << QVariantList { entry(QStringLiteral("todos."), projects) } << QString() << 0;
    QTest::newRow("from with two dots")
            << QVariantList { entry(QStringLiteral("todos.project.id"), projects) } << QString()
            << 0;
    QTest::newRow("from with a collection starting with a digit")
            << QVariantList { entry(QStringLiteral("1todos.projectId"), projects) } << QString()
            << 0;
    QTest::newRow("from with a field holding a space")
            << QVariantList { entry(QStringLiteral("todos.project id"), projects) } << QString()
            << 0;
    QTest::newRow("from with SQL in it")
            << QVariantList { entry(QStringLiteral("todos.x;DROP TABLE todos"), projects) }
            << QString() << 0;
    QTest::newRow("from naming a sqlite_ collection")
            << QVariantList { entry(QStringLiteral("sqlite_master.name"), projects) }
            << QString() << 0;
    QTest::newRow("no to") << QVariantList { QVariantMap { { QStringLiteral("from"), todo } } }
                           << QString() << 0;
    QTest::newRow("an empty to") << QVariantList { entry(todo, QString()) } << QString() << 0;
    QTest::newRow("a to with a dot")
            << QVariantList { entry(todo, QStringLiteral("projects.id")) } << QString() << 0;
    QTest::newRow("a to that is a sqlite_ name")
            << QVariantList { entry(todo, QStringLiteral("sqlite_sequence")) } << QString() << 0;
    QTest::newRow("required as a string")
            << QVariantList { entry(todo, projects, QStringLiteral("true")) } << QString() << 0;
    QTest::newRow("required as a number") << QVariantList { entry(todo, projects, 1) }
                                          << QString() << 0;
    QTest::newRow("one field in two relations")
            << QVariantList { entry(todo, projects), entry(todo, QStringLiteral("users")) }
            << QString() << 1;
    QTest::newRow("the same relation twice")
            << QVariantList { entry(todo, projects, true), entry(todo, projects, true) }
            << QString() << 1;
    QTest::newRow("a bad entry after good ones returns none of them")
            << QVariantList { entry(todo, projects),
                              entry(QStringLiteral("notes.todoId"), QStringLiteral("todos")),
                              entry(QStringLiteral("notes.ownerId"), QStringLiteral("9users")) }
            << QString() << 2;
}

void tst_Remapping::parseRelations()
{
    QFETCH(QVariantList, entries);
    QFETCH(QString, expected);
    QFETCH(int, badEntry);

    QString error = QStringLiteral("left from before");
    const QList<Relation> parsed = Remapping::parseRelations(entries, &error);
    if (badEntry < 0) {
        QCOMPARE(error, QString());
        QCOMPARE(describe(parsed), expected);
    } else {
        QVERIFY2(!error.isEmpty() && error != QLatin1String("left from before"),
                 "a bad entry gives no error");
        QVERIFY2(parsed.isEmpty(), qPrintable(describe(parsed)));
        QVERIFY2(error.contains(QString::number(badEntry)), qPrintable(error));
    }
}

void tst_Remapping::parentsFirst_data()
{
    QTest::addColumn<QString>("collections");
    QTest::addColumn<QString>("relations");
    QTest::addColumn<QString>("expected");

    QTest::newRow("no relations: as given") << "b a c" << "" << "b a c";
    QTest::newRow("no collections") << "" << "todos.projectId>projects" << "";
    QTest::newRow("a parent listed after its child comes first")
            << "todos projects" << "todos.projectId>projects" << "projects todos";
    QTest::newRow("parents already first stay") << "projects todos" << "todos.projectId>projects"
                                                << "projects todos";
    QTest::newRow("a chain given backwards")
            << "c b a" << "c.bId>b b.aId>a" << "a b c";
    QTest::newRow("a chain given shuffled") << "b c a" << "c.bId>b b.aId>a" << "a b c";
    QTest::newRow("a diamond")
            << "d b c a" << "d.bId>b d.cId>c b.aId>a c.aId>a" << "a b c d";
    QTest::newRow("two parents keep the order of the relations")
            << "child p2 p1" << "child.x>p1 child.y>p2" << "p1 p2 child";
    QTest::newRow("collections in no relation keep their places")
            << "x todos y projects z" << "todos.projectId>projects" << "x projects todos y z";
    QTest::newRow("a self-relation changes nothing")
            << "notes todos" << "todos.parentId>todos" << "notes todos";
    QTest::newRow("a self-relation and a parent")
            << "todos projects" << "todos.parentId>todos todos.projectId>projects"
            << "projects todos";
    QTest::newRow("a target not in the list is not added")
            << "todos notes" << "todos.ownerId>users notes.todoId>todos" << "todos notes";
    QTest::newRow("a relation of a collection not in the list is ignored")
            << "projects users" << "todos.projectId>projects users.x>todos" << "projects users";
    QTest::newRow("a relation through a collection not in the list does not order")
            << "a c" << "a.bId>b b.cId>c" << "a c";
    // Collections on a cycle keep their given order (remapping.h).
    QTest::newRow("a two-cycle keeps its given order") << "a b" << "a.bId>b b.aId>a" << "a b";
    QTest::newRow("a two-cycle given the other way") << "b a" << "a.bId>b b.aId>a" << "b a";
    QTest::newRow("a three-cycle keeps its given order")
            << "a b c" << "a.bId>b b.cId>c c.aId>a" << "a b c";
    QTest::newRow("a child of a cycle comes after it")
            << "child a b" << "child.aId>a a.bId>b b.aId>a" << "a b child";
    QTest::newRow("a cycle's parent comes before it")
            << "a b p" << "a.bId>b b.aId>a b.pId>p" << "p a b";
}

void tst_Remapping::parentsFirst()
{
    QFETCH(QString, collections);
    QFETCH(QString, relations);
    QFETCH(QString, expected);

    const QStringList given = collections.split(u' ', Qt::SkipEmptyParts);
    const QList<Relation> graph = ::relations(relations);
    const QStringList order = Remapping::parentsFirst(given, graph);
    QCOMPARE(order.join(u' '), expected);

    // Each collection is there once, and the same input gives the same order.
    QStringList sorted = order;
    sorted.sort();
    QStringList sortedGiven = given;
    sortedGiven.sort();
    QCOMPARE(sorted, sortedGiven);
    QCOMPARE(Remapping::parentsFirst(given, graph), order);
}

void tst_Remapping::referenceKey_data()
{
    QTest::addColumn<QJsonValue>("value");
    QTest::addColumn<QString>("expected");

    QTest::newRow("a string is the key") << QJsonValue(QStringLiteral("k1")) << "k1";
    QTest::newRow("a string of digits") << QJsonValue(QStringLiteral("007")) << "007";
    QTest::newRow("a string of spaces is a key") << QJsonValue(QStringLiteral(" ")) << " ";
    QTest::newRow("an empty string refers to nothing") << QJsonValue(QString()) << "";
    QTest::newRow("an integral number is its decimal text") << QJsonValue(42) << "42";
    QTest::newRow("zero") << QJsonValue(0) << "0";
    QTest::newRow("minus zero") << QJsonValue(-0.0) << "0";
    QTest::newRow("a negative integer") << QJsonValue(-7) << "-7";
    QTest::newRow("an integral double") << QJsonValue(42.0) << "42";
    QTest::newRow("a large integer") << QJsonValue(1e15) << "1000000000000000";
    QTest::newRow("the largest safe integer")
            << QJsonValue(9007199254740991.0) << "9007199254740991";
    QTest::newRow("the smallest safe integer")
            << QJsonValue(-9007199254740991.0) << "-9007199254740991";
    QTest::newRow("2^53 is beyond exact integers") << QJsonValue(9007199254740992.0) << "";
    QTest::newRow("a huge number") << QJsonValue(1e300) << "";
    QTest::newRow("a non-integral number") << QJsonValue(1.5) << "";
    QTest::newRow("a tiny fraction") << QJsonValue(1e-9) << "";
    QTest::newRow("infinity") << QJsonValue(std::numeric_limits<double>::infinity()) << "";
    QTest::newRow("null") << QJsonValue(QJsonValue::Null) << "";
    QTest::newRow("undefined") << QJsonValue(QJsonValue::Undefined) << "";
    QTest::newRow("true") << QJsonValue(true) << "";
    QTest::newRow("false") << QJsonValue(false) << "";
    QTest::newRow("an object") << QJsonValue(QJsonObject { { "id", "k1" } }) << "";
    QTest::newRow("an array") << QJsonValue(QJsonArray { QStringLiteral("k1") }) << "";
}

void tst_Remapping::referenceKey()
{
    QFETCH(QJsonValue, value);
    QFETCH(QString, expected);
    QCOMPARE(Remapping::referenceKey(value), expected);
}

void tst_Remapping::references_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QJsonObject>("record");
    QTest::addColumn<QString>("relations");
    QTest::addColumn<QString>("expected"); // field>target/key, in the order of the relations

    const QString graph = QStringLiteral(
            "todos.projectId>projects! notes.todoId>todos todos.ownerId>users");
    QTest::newRow("each reference in the order of the relations")
            << "todos" << object(R"({"ownerId":"u1","projectId":"p1","title":"x"})") << graph
            << "projectId>projects/p1! ownerId>users/u1";
    QTest::newRow("only the relations of the record's collection")
            << "notes" << object(R"({"todoId":"t1","projectId":"p1"})") << graph
            << "todoId>todos/t1";
    QTest::newRow("a collection in no relation refers to nothing")
            << "users" << object(R"({"projectId":"p1"})") << graph << "";
    QTest::newRow("an absent field refers to nothing")
            << "todos" << object(R"({"title":"x"})") << graph << "";
    QTest::newRow("null refers to nothing") << "todos" << object(R"({"projectId":null})")
                                            << graph << "";
    QTest::newRow("an empty string refers to nothing")
            << "todos" << object(R"({"projectId":""})") << graph << "";
    QTest::newRow("a number refers by its decimal text")
            << "todos" << object(R"({"projectId":12})") << graph << "projectId>projects/12!";
    QTest::newRow("a fraction refers to nothing") << "todos" << object(R"({"projectId":1.5})")
                                                  << graph << "";
    QTest::newRow("an object refers to nothing")
            << "todos" << object(R"({"projectId":{"id":"p1"}})") << graph << "";
    QTest::newRow("a self-reference") << "todos" << object(R"({"parentId":"t0"})")
                                      << "todos.parentId>todos" << "parentId>todos/t0";
    QTest::newRow("no relations") << "todos" << object(R"({"projectId":"p1"})") << "" << "";
}

void tst_Remapping::references()
{
    QFETCH(QString, collection);
    QFETCH(QJsonObject, record);
    QFETCH(QString, relations);
    QFETCH(QString, expected);

    QStringList out;
    for (const Reference &ref : Remapping::references(collection, record, ::relations(relations))) {
        QCOMPARE(ref.relation.collection, collection);
        out.append(QStringLiteral("%1>%2/%3%4")
                           .arg(ref.relation.field, ref.relation.target, ref.key,
                                ref.relation.required ? QStringLiteral("!") : QString()));
    }
    QCOMPARE(out.join(u' '), expected);
}

void tst_Remapping::referencedItems_data()
{
    QTest::addColumn<MutationType>("type");
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QJsonObject>("modified");
    QTest::addColumn<QJsonObject>("changes");
    QTest::addColumn<QStringList>("expected");

    const QJsonObject modified = object(R"({"projectId":"p1","ownerId":"u1"})");
    const QJsonObject changes = object(R"({"projectId":"p2"})");
    QTest::newRow("an insert refers through its record (modified)")
            << MutationType::Insert << "todos" << modified << changes
            << QStringList { QStringLiteral("projects/p1"), QStringLiteral("users/u1") };
    QTest::newRow("an update refers through its changes only")
            << MutationType::Update << "todos" << modified << changes
            << QStringList { QStringLiteral("projects/p2") };
    QTest::newRow("an update that changes no reference refers to nothing")
            << MutationType::Update << "todos" << modified << object(R"({"title":"x"})")
            << QStringList();
    QTest::newRow("a removal refers to nothing")
            << MutationType::Remove << "todos" << modified << changes << QStringList();
    QTest::newRow("a mutation of another collection refers through its own relations")
            << MutationType::Insert << "notes" << object(R"({"todoId":"t1","projectId":"p1"})")
            << QJsonObject() << QStringList { QStringLiteral("todos/t1") };
}

void tst_Remapping::referencedItems()
{
    QFETCH(MutationType, type);
    QFETCH(QString, collection);
    QFETCH(QJsonObject, modified);
    QFETCH(QJsonObject, changes);
    QFETCH(QStringList, expected);

    const QList<Relation> graph =
            relations(QStringLiteral("todos.projectId>projects todos.ownerId>users "
                                     "notes.todoId>todos"));
    const MutationRecord m = mutation(type, collection, QStringLiteral("k"), modified, changes);
    QCOMPARE(Remapping::referencedItems(m, graph), expected);
}

void tst_Remapping::keyChangeSet_data()
{
    QTest::addColumn<QString>("changes");
    QTest::addColumn<QString>("kept");

    QTest::newRow("no changes") << "" << "";
    QTest::newRow("changes are kept in order") << "todos:c2=s2 projects:c1=s1"
                                               << "todos:c2=s2 projects:c1=s1";
    QTest::newRow("no client key is no change") << "todos:=s1 todos:c2=s2" << "todos:c2=s2";
    QTest::newRow("no server key is no change") << "todos:c1= todos:c2=s2" << "todos:c2=s2";
    QTest::newRow("the same key on both sides is no change")
            << "todos:c1=c1 todos:c2=s2" << "todos:c2=s2";
    QTest::newRow("a server key that is another change's client key is dropped")
            << "todos:a=b todos:b=c" << "todos:b=c";
    QTest::newRow("dropped whatever the order") << "todos:b=c todos:a=b" << "todos:b=c";
    QTest::newRow("dropped across collections") << "todos:a=b projects:b=c" << "projects:b=c";
    QTest::newRow("two changes swapping keys are both dropped") << "todos:a=b todos:b=a" << "";
    QTest::newRow("a chain keeps only its last link")
            << "todos:a=b todos:b=c todos:c=d" << "todos:c=d";
    QTest::newRow("a server key equal to a no-change's key is kept")
            << "todos:a=a todos:x=a" << "todos:x=a";
    QTest::newRow("two items given one server key are both kept")
            << "todos:a=s projects:b=s" << "todos:a=s projects:b=s";
}

void tst_Remapping::keyChangeSet()
{
    QFETCH(QString, changes);
    QFETCH(QString, kept);

    const KeyChanges set(keyChanges(changes));
    QCOMPARE(describe(set.list()), kept);
    QCOMPARE(set.isEmpty(), kept.isEmpty());
    QVERIFY(KeyChanges().isEmpty());
}

void tst_Remapping::resolve_data()
{
    QTest::addColumn<QString>("changes");
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expected");

    const QString set = QStringLiteral("todos:c1=s1 projects:p1=s2 todos:a=b todos:b=c");
    QTest::newRow("a remapped item") << set << "todos" << "c1" << "s1";
    QTest::newRow("another collection's item") << set << "projects" << "p1" << "s2";
    QTest::newRow("the key in another collection is another item")
            << set << "projects" << "c1" << "c1";
    QTest::newRow("an unknown key is itself") << set << "todos" << "zz" << "zz";
    QTest::newRow("a server key is itself") << set << "todos" << "s1" << "s1";
    QTest::newRow("a dropped change resolves to nothing new") << set << "todos" << "a" << "a";
    QTest::newRow("the link kept from a chain") << set << "todos" << "b" << "c";
    QTest::newRow("an empty key") << set << "todos" << "" << "";
    QTest::newRow("an empty set") << "" << "todos" << "c1" << "c1";
}

void tst_Remapping::resolve()
{
    QFETCH(QString, changes);
    QFETCH(QString, collection);
    QFETCH(QString, key);
    QFETCH(QString, expected);
    const KeyChanges set(keyChanges(changes));
    QCOMPARE(set.resolve(collection, key), expected);
    // Resolving is done in one step.
    QCOMPARE(set.resolve(collection, expected), expected);
}

void tst_Remapping::applyToValue_data()
{
    QTest::addColumn<QString>("changes");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("expected");

    const QString set = QStringLiteral("todos:c1=s1 projects:p1=s2");
    QTest::newRow("a string equal to a client key") << set << R"("c1")" << R"("s1")";
    QTest::newRow("a client key of any collection") << set << R"("p1")" << R"("s2")";
    QTest::newRow("a string holding a client key is not one") << set << R"("c1 ")" << R"("c1 ")";
    QTest::newRow("a string ending in a client key") << set << R"("xc1")" << R"("xc1")";
    QTest::newRow("case matters") << set << R"("C1")" << R"("C1")";
    QTest::newRow("an item id is not a key") << set << R"("todos/c1")" << R"("todos/c1")";
    QTest::newRow("a server key stays") << set << R"("s1")" << R"("s1")";
    QTest::newRow("other values stay") << set << R"([null,true,false,1.5,0,"",{}])"
                                       << R"([null,true,false,1.5,0,"",{}])";
    QTest::newRow("a number is not a key, a string of it is")
            << "todos:42=s9" << R"([42,"42",42.0])" << R"([42,"s9",42])";
    QTest::newRow("in an object") << set << R"({"id":"c1","projectId":"p1","n":1})"
                                  << R"({"id":"s1","projectId":"s2","n":1})";
    QTest::newRow("member names stay") << set << R"({"c1":"c1","p1":{"c1":1}})"
                                       << R"({"c1":"s1","p1":{"c1":1}})";
    QTest::newRow("deep in arrays and objects")
            << set << R"({"a":[["c1",{"b":[{"c":"p1"}]}],"x"],"d":{"e":{"f":"c1"}}})"
            << R"({"a":[["s1",{"b":[{"c":"s2"}]}],"x"],"d":{"e":{"f":"s1"}}})";
    QTest::newRow("every element of an array") << set << R"(["c1","p1","c1","q"])"
                                               << R"(["s1","s2","s1","q"])";
    QTest::newRow("a dropped change remaps nothing") << "todos:a=b todos:b=c" << R"(["a","b"])"
                                                     << R"(["a","c"])";
    QTest::newRow("an empty set changes nothing") << "" << R"({"id":"c1"})" << R"({"id":"c1"})";
}

void tst_Remapping::applyToValue()
{
    QFETCH(QString, changes);
    QFETCH(QString, value);
    QFETCH(QString, expected);

    const KeyChanges set(keyChanges(changes));
    const QJsonValue before = jsonValue(value);
    QJsonValue v = before;
    const bool changed = set.apply(v);
    QCOMPARE(json(v), json(jsonValue(expected)));
    QCOMPARE(changed, v != before);

    if (before.isObject()) {
        QJsonObject o = before.toObject();
        QCOMPARE(set.apply(o), changed);
        QCOMPARE(QJsonValue(o), v);
        QVERIFY(!set.apply(o)); // once is enough
    }
    QVERIFY(!set.apply(v));
    QCOMPARE(json(v), json(jsonValue(expected)));
}

void tst_Remapping::applyToMutation_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expectedKey");
    QTest::addColumn<bool>("changed");

    // The set: todos c1 -> s1, projects p1 -> s2. The payloads name both (see below).
    QTest::newRow("the key of a mutation on a remapped item") << "todos" << "c1" << "s1" << true;
    QTest::newRow("the same key in another collection is not remapped")
            << "projects" << "c1" << "c1" << true;
    QTest::newRow("another item keeps its key") << "todos" << "k9" << "k9" << true;
}

void tst_Remapping::applyToMutation()
{
    QFETCH(QString, collection);
    QFETCH(QString, key);
    QFETCH(QString, expectedKey);
    QFETCH(bool, changed);

    const KeyChanges set(keyChanges(QStringLiteral("todos:c1=s1 projects:p1=s2")));
    MutationRecord m = mutation(MutationType::Update, collection, key,
                                object(R"({"id":"c1","projectId":"p1","tags":["c1"]})"),
                                object(R"({"projectId":"p1"})"));
    m.original = object(R"({"id":"c1","projectId":"p0","parent":{"id":"c1"}})");
    m.sequence = 3;
    m.baseVersion = 7;
    m.metadata = QJsonValue(QStringLiteral("c1"));
    const MutationRecord before = m;

    QCOMPARE(set.apply(m), changed);
    QCOMPARE(m.key, expectedKey);
    // Payload strings change whatever the mutation's collection.
    QCOMPARE(m.original, object(R"({"id":"s1","projectId":"p0","parent":{"id":"s1"}})"));
    QCOMPARE(m.modified, object(R"({"id":"s1","projectId":"s2","tags":["s1"]})"));
    QCOMPARE(m.changes, object(R"({"projectId":"s2"})"));
    // Nothing else: not its id, transaction, place, base version or metadata.
    MutationRecord expected = before;
    expected.key = m.key;
    expected.original = m.original;
    expected.modified = m.modified;
    expected.changes = m.changes;
    QCOMPARE(differences(m, expected), QString());

    const MutationRecord once = m;
    QVERIFY(!set.apply(m));
    QCOMPARE(differences(m, once), QString());

    // Nothing to remap: unchanged, and said so.
    MutationRecord plain = mutation(MutationType::Insert, collection, QStringLiteral("k9"),
                                    object(R"({"title":"x"})"), object(R"({"title":"x"})"));
    const MutationRecord plainBefore = plain;
    QVERIFY(!set.apply(plain));
    QCOMPARE(differences(plain, plainBefore), QString());
    QVERIFY(!KeyChanges().apply(m));
}

void tst_Remapping::applyToTransaction()
{
    const KeyChanges set(keyChanges(QStringLiteral("todos:c1=s1")));
    TransactionRecord tx;
    tx.id = QStringLiteral("c1"); // a transaction id is not a key
    tx.mutations = {
        mutation(MutationType::Insert, QStringLiteral("todos"), QStringLiteral("c1"),
                 object(R"({"title":"x"})"), object(R"({"title":"x"})")),
        mutation(MutationType::Insert, QStringLiteral("notes"), QStringLiteral("n1"),
                 object(R"({"todoId":"c1"})"), object(R"({"todoId":"c1"})")),
        mutation(MutationType::Update, QStringLiteral("todos"), QStringLiteral("k2"),
                 object(R"({"title":"y"})"), object(R"({"title":"y"})")),
    };
    QVERIFY(set.apply(tx));
    QCOMPARE(tx.id, QStringLiteral("c1"));
    QCOMPARE(tx.mutations.size(), 3);
    QCOMPARE(tx.mutations.at(0).key, QStringLiteral("s1"));
    QCOMPARE(tx.mutations.at(1).key, QStringLiteral("n1"));
    QCOMPARE(tx.mutations.at(1).modified, object(R"({"todoId":"s1"})"));
    QCOMPARE(tx.mutations.at(1).changes, object(R"({"todoId":"s1"})"));
    QCOMPARE(tx.mutations.at(2).key, QStringLiteral("k2"));
    QVERIFY(!set.apply(tx));

    // Only the later mutation holds the key: still a change.
    TransactionRecord later;
    later.mutations = { mutation(MutationType::Update, QStringLiteral("todos"),
                                 QStringLiteral("k2"), {}, object(R"({"n":1})")),
                        mutation(MutationType::Update, QStringLiteral("todos"),
                                 QStringLiteral("k3"), {}, object(R"({"ref":"c1"})")) };
    QVERIFY(set.apply(later));
    QCOMPARE(later.mutations.at(1).changes, object(R"({"ref":"s1"})"));

    TransactionRecord empty;
    QVERIFY(!set.apply(empty));
}

void tst_Remapping::applyToConflict_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("key");
    QTest::addColumn<bool>("hasLocal");
    QTest::addColumn<bool>("hasServer");
    QTest::addColumn<bool>("hasBase");
    QTest::addColumn<QString>("expectedKey");
    QTest::addColumn<bool>("changed");

    QTest::newRow("a conflict on a remapped item, every record there")
            << "todos" << "c1" << true << true << true << "s1" << true;
    QTest::newRow("a local removal of a remapped item")
            << "todos" << "c1" << false << true << true << "s1" << true;
    QTest::newRow("a server deletion, no base")
            << "todos" << "c1" << true << false << false << "s1" << true;
    QTest::newRow("the key in another collection stays, records are remapped")
            << "projects" << "c1" << true << true << true << "c1" << true;
    QTest::newRow("another item with only a server record referring to it")
            << "notes" << "n1" << false << true << false << "n1" << true;
    QTest::newRow("another item with no records") << "notes" << "n1" << false << false << false
                                                  << "n1" << false;
}

void tst_Remapping::applyToConflict()
{
    QFETCH(QString, collection);
    QFETCH(QString, key);
    QFETCH(bool, hasLocal);
    QFETCH(bool, hasServer);
    QFETCH(bool, hasBase);
    QFETCH(QString, expectedKey);
    QFETCH(bool, changed);

    const KeyChanges set(keyChanges(QStringLiteral("todos:c1=s1 projects:p1=s2")));
    ConflictRecord c;
    c.id = QStringLiteral("c1"); // the mutation id: not a key
    c.transactionId = QStringLiteral("c1");
    c.collection = collection;
    c.key = key;
    c.serverVersion = 4;
    const QJsonObject record = object(R"({"todoId":"c1","projectId":"p1","n":1})");
    const QJsonObject remapped = object(R"({"todoId":"s1","projectId":"s2","n":1})");
    if (hasLocal)
        c.local = record;
    if (hasServer)
        c.server = record;
    if (hasBase)
        c.base = record;
    const ConflictRecord before = c;

    QCOMPARE(set.apply(c), changed);
    ConflictRecord expected = before;
    expected.key = expectedKey;
    if (hasLocal)
        expected.local = remapped;
    if (hasServer)
        expected.server = remapped;
    if (hasBase)
        expected.base = remapped;
    QCOMPARE(differences(c, expected), QString());

    QVERIFY(!set.apply(c));
    QCOMPARE(differences(c, expected), QString());
    QVERIFY(!KeyChanges().apply(c));
}

void tst_Remapping::applyToRow_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("keyField");
    QTest::addColumn<QJsonObject>("row");
    QTest::addColumn<QString>("relations");
    QTest::addColumn<QString>("changes");
    QTest::addColumn<QJsonObject>("expected");

    const QString graph = QStringLiteral("todos.projectId>projects! todos.ownerId>users "
                                         "todos.parentId>todos notes.todoId>todos");

    QTest::newRow("the row's own key field takes its server key")
            << "todos" << "id" << object(R"({"id":"c1","title":"c1"})") << graph
            << "todos:c1=s1" << object(R"({"id":"s1","title":"c1"})");
    QTest::newRow("the key field of another collection's row stays")
            << "projects" << "id" << object(R"({"id":"c1"})") << graph << "todos:c1=s1"
            << object(R"({"id":"c1"})");
    QTest::newRow("another key field name") << "todos" << "uuid"
                                            << object(R"({"uuid":"c1","id":"c1"})") << graph
                                            << "todos:c1=s1"
                                            << object(R"({"uuid":"s1","id":"c1"})");
    QTest::newRow("no key field: only references")
            << "todos" << "" << object(R"({"id":"c1","parentId":"c1"})") << graph
            << "todos:c1=s1" << object(R"({"id":"c1","parentId":"s1"})");
    QTest::newRow("a reference to the remapped collection")
            << "todos" << "id" << object(R"({"id":"t1","projectId":"p1"})") << graph
            << "projects:p1=s2" << object(R"({"id":"t1","projectId":"s2"})");
    QTest::newRow("a field of another relation holding the same key stays")
            << "todos" << "id" << object(R"({"id":"t1","projectId":"k","ownerId":"k"})")
            << graph << "projects:k=s2" << object(R"({"id":"t1","projectId":"s2","ownerId":"k"})");
    QTest::newRow("each relation field through its own target")
            << "todos" << "id" << object(R"({"id":"t1","projectId":"k","ownerId":"k"})")
            << graph << "projects:k=s2 users:u=s3"
            << object(R"({"id":"t1","projectId":"s2","ownerId":"k"})");
    QTest::newRow("a field in no relation holding a client key stays")
            << "todos" << "id" << object(R"({"id":"t1","note":"p1","tags":["p1"]})") << graph
            << "projects:p1=s2" << object(R"({"id":"t1","note":"p1","tags":["p1"]})");
    QTest::newRow("another collection's relation field does not apply")
            << "users" << "id" << object(R"({"id":"u1","todoId":"c1","projectId":"p1"})")
            << graph << "todos:c1=s1 projects:p1=s2"
            << object(R"({"id":"u1","todoId":"c1","projectId":"p1"})");
    QTest::newRow("a self-relation and the key field together")
            << "todos" << "id" << object(R"({"id":"c1","parentId":"c2"})") << graph
            << "todos:c1=s1 todos:c2=s2" << object(R"({"id":"s1","parentId":"s2"})");
    QTest::newRow("a numeric reference is rewritten to the server key")
            << "todos" << "id" << object(R"({"id":"t1","projectId":42})") << graph
            << "projects:42=s9" << object(R"({"id":"t1","projectId":"s9"})");
    QTest::newRow("a numeric key field is rewritten")
            << "todos" << "id" << object(R"({"id":42})") << graph << "todos:42=s9"
            << object(R"({"id":"s9"})");
    QTest::newRow("null and absent references stay")
            << "todos" << "id" << object(R"({"projectId":null})") << graph << "projects:p1=s2"
            << object(R"({"projectId":null})");
    QTest::newRow("an object in a relation field stays")
            << "todos" << "id" << object(R"({"projectId":{"id":"p1"}})") << graph
            << "projects:p1=s2" << object(R"({"projectId":{"id":"p1"}})");
    QTest::newRow("a change whose server key is another's client key is dropped")
            << "todos" << "id" << object(R"({"id":"a","parentId":"b"})") << graph
            << "todos:a=b todos:b=c" << object(R"({"id":"a","parentId":"c"})");
    QTest::newRow("no relations: only the key field")
            << "todos" << "id" << object(R"({"id":"c1","projectId":"p1"})") << ""
            << "todos:c1=s1 projects:p1=s2" << object(R"({"id":"s1","projectId":"p1"})");
}

void tst_Remapping::applyToRow()
{
    QFETCH(QString, collection);
    QFETCH(QString, keyField);
    QFETCH(QJsonObject, row);
    QFETCH(QString, relations);
    QFETCH(QString, changes);
    QFETCH(QJsonObject, expected);

    const KeyChanges set(keyChanges(changes));
    const QList<Relation> graph = ::relations(relations);
    QJsonObject r = row;
    QCOMPARE(set.applyToRow(collection, keyField, r, graph), expected != row);
    QCOMPARE(r, expected);
    QVERIFY(!set.applyToRow(collection, keyField, r, graph));
    QCOMPARE(r, expected);
    QVERIFY(!KeyChanges().applyToRow(collection, keyField, r, graph));
}

void tst_Remapping::orphans_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QJsonArray>("rows"); // [[key, record], ...]
    QTest::addColumn<QString>("existing"); // item ids
    QTest::addColumn<QString>("expected"); // key.field>target/missingKey, '!' when required

    const auto rows = [](const char *text) { return jsonValue(QString::fromUtf8(text)).toArray(); };
    QTest::newRow("every reference found: no orphans")
            << "todos" << rows(R"([["t1",{"projectId":"p1","ownerId":"u1"}]])")
            << "projects/p1 users/u1" << "";
    QTest::newRow("a missing required target")
            << "todos" << rows(R"([["t1",{"projectId":"p9"}]])") << "projects/p1"
            << "t1.projectId>projects/p9!";
    QTest::newRow("a missing optional target") << "todos" << rows(R"([["t1",{"ownerId":"u9"}]])")
                                               << "" << "t1.ownerId>users/u9";
    QTest::newRow("rows in order, then relations in order")
            << "todos"
            << rows(R"([["t2",{"ownerId":"u9","projectId":"p9"}],["t1",{"projectId":"p8"}]])")
            << "" << "t2.projectId>projects/p9! t2.ownerId>users/u9 t1.projectId>projects/p8!";
    QTest::newRow("a key that exists in another collection is still missing")
            << "todos" << rows(R"([["t1",{"projectId":"u1"}]])") << "users/u1"
            << "t1.projectId>projects/u1!";
    QTest::newRow("null, empty and absent references are no orphans")
            << "todos" << rows(R"([["t1",{"projectId":null,"ownerId":""}],["t2",{}]])") << ""
            << "";
    QTest::newRow("a numeric reference by its decimal text")
            << "todos" << rows(R"([["t1",{"projectId":12}],["t2",{"projectId":13}]])")
            << "projects/12" << "t2.projectId>projects/13!";
    QTest::newRow("a self-reference to a missing row")
            << "todos" << rows(R"([["t1",{"parentId":"t0"}],["t2",{"parentId":"t1"}]])")
            << "todos/t1 todos/t2" << "t1.parentId>todos/t0";
    QTest::newRow("a collection in no relation has no orphans")
            << "users" << rows(R"([["u1",{"projectId":"p9"}]])") << "" << "";
    QTest::newRow("no rows") << "todos" << QJsonArray() << "" << "";
}

void tst_Remapping::orphans()
{
    QFETCH(QString, collection);
    QFETCH(QJsonArray, rows);
    QFETCH(QString, existing);
    QFETCH(QString, expected);

    const QList<Relation> graph = relations(
            QStringLiteral("todos.projectId>projects! todos.ownerId>users todos.parentId>todos"));
    QList<Row> input;
    for (const QJsonValue &row : std::as_const(rows))
        input.append({ row[0].toString(), row[1].toObject() });
    const QStringList ids = existing.split(u' ', Qt::SkipEmptyParts);
    const QSet<QString> present(ids.cbegin(), ids.cend());
    int asked = 0;
    const QList<Orphan> found = Remapping::orphans(
            collection, input, graph, [&](const QString &target, const QString &key) {
                ++asked;
                return present.contains(itemId(target, key));
            });
    QStringList out;
    for (const Orphan &o : found) {
        QCOMPARE(o.collection, collection);
        out.append(QStringLiteral("%1.%2>%3/%4%5")
                           .arg(o.key, o.relation.field, o.relation.target, o.missingKey,
                                o.relation.required ? QStringLiteral("!") : QString()));
    }
    QCOMPARE(out.join(u' '), expected);
    // Asked once per reference, never for a field that refers to nothing.
    int referencesHeld = 0;
    for (const Row &row : std::as_const(input))
        referencesHeld += int(Remapping::references(collection, row.record, graph).size());
    QCOMPARE(asked, referencesHeld);
}

void tst_Remapping::orphanForm()
{
    const Orphan o { QStringLiteral("todos"), QStringLiteral("t1"),
                     Relation { QStringLiteral("todos"), QStringLiteral("projectId"),
                                QStringLiteral("projects"), true },
                     QStringLiteral("p9") };
    const QVariantMap expected { { QStringLiteral("collection"), QStringLiteral("todos") },
                                 { QStringLiteral("key"), QStringLiteral("t1") },
                                 { QStringLiteral("field"), QStringLiteral("projectId") },
                                 { QStringLiteral("target"), QStringLiteral("projects") },
                                 { QStringLiteral("missingKey"), QStringLiteral("p9") },
                                 { QStringLiteral("required"), true } };
    QCOMPARE(o.toVariantMap(), expected);
}

void tst_Remapping::generatedPayloads_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("500 key sets and payloads from seed 1") << 1u;
    QTest::newRow("500 key sets and payloads from seed 20261204") << 20261204u;
}

void tst_Remapping::generatedPayloads()
{
    QFETCH(quint32, seed);
    seed = PropertySeed::seed(seed);
    int remapped = 0;
    int dropped = 0;
    for (int i = 0; i < PropertySeed::Cases; ++i) {
        QRandomGenerator random = PropertySeed::generator(seed, i);
        const KeyModel model = randomKeyChanges(random);
        const KeyChanges set(model.given);
        const QJsonValue before = randomPayload(random, model);
        const auto context = [&](const QString &what) {
            return QStringLiteral("%1: %2\n  changes: %3\n  kept: %4\n  payload: %5")
                    .arg(PropertySeed::context(seed, i), what, describe(model.given),
                         describe(set.list()), json(before));
        };

        // The set keeps what the model says, in the given order.
        QVERIFY2(set.list() == model.kept,
                 qPrintable(context(QStringLiteral("kept %1, expected %2")
                                            .arg(describe(set.list()), describe(model.kept)))));
        dropped += int(model.given.size() - model.kept.size());

        QJsonValue once = before;
        const bool changed = set.apply(once);
        const QString problem = checkRemapped(before, once, model, QString());
        QVERIFY2(problem.isEmpty(), qPrintable(context(problem)));
        QVERIFY2(changed == (once != before),
                 qPrintable(context(QStringLiteral("apply() returned %1 for %2")
                                            .arg(changed)
                                            .arg(json(once)))));
        remapped += changed;

        // Deterministic: the same changes, made again or given in the other order, remap the
        // same way.
        QJsonValue again = before;
        QCOMPARE(KeyChanges(model.given).apply(again), changed);
        QVERIFY2(again == once, qPrintable(context(QStringLiteral("again: %1").arg(json(again)))));
        QList<KeyChange> reversed = model.given;
        std::reverse(reversed.begin(), reversed.end());
        QJsonValue otherOrder = before;
        KeyChanges(reversed).apply(otherOrder);
        QVERIFY2(otherOrder == once,
                 qPrintable(context(QStringLiteral("changes in the other order: %1")
                                            .arg(json(otherOrder)))));

        // Idempotent: a second application changes nothing and says so.
        QJsonValue twice = once;
        QVERIFY2(!set.apply(twice), qPrintable(context(QStringLiteral("applied twice"))));
        QVERIFY2(twice == once, qPrintable(context(QStringLiteral("twice: %1").arg(json(twice)))));

        // As an object, the same.
        if (before.isObject()) {
            QJsonObject o = before.toObject();
            QCOMPARE(set.apply(o), changed);
            QVERIFY2(QJsonValue(o) == once, qPrintable(context(QStringLiteral("as an object"))));
        }
    }
    // The generator reached what the properties are about.
    QVERIFY2(remapped > PropertySeed::Cases / 8, qPrintable(QString::number(remapped)));
    QVERIFY2(dropped > PropertySeed::Cases / 10, qPrintable(QString::number(dropped)));
}

void tst_Remapping::generatedMutationsAndConflicts_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("500 mutations and conflicts from seed 2") << 2u;
    QTest::newRow("500 mutations and conflicts from seed 77") << 77u;
}

void tst_Remapping::generatedMutationsAndConflicts()
{
    QFETCH(quint32, seed);
    seed = PropertySeed::seed(seed);
    int keysRemapped = 0;
    for (int i = 0; i < PropertySeed::Cases; ++i) {
        QRandomGenerator random = PropertySeed::generator(seed, i);
        const KeyModel model = randomKeyChanges(random);
        const KeyChanges set(model.given);
        const QString collection = Collections[random.bounded(3)];
        const QString key = randomString(random, model);
        const QString expectedKey = model.byItem.value(itemId(collection, key), key);
        keysRemapped += expectedKey != key;

        MutationRecord m;
        m.id = QStringLiteral("m%1").arg(i);
        m.transactionId = QStringLiteral("t%1").arg(i);
        m.sequence = int(random.bounded(3));
        m.collection = collection;
        m.key = key;
        m.type = MutationType(random.bounded(3));
        m.baseVersion = random.bounded(10);
        m.original = randomObject(random, model);
        m.modified = randomObject(random, model);
        m.changes = randomObject(random, model);
        m.metadata = randomValue(random, model, 2);
        const MutationRecord before = m;
        const auto context = [&](const QString &what) {
            return QStringLiteral("%1: %2\n  changes: %3\n  mutation: %4/%5 %6 %7 %8")
                    .arg(PropertySeed::context(seed, i), what, describe(model.given), collection,
                         key, json(QJsonValue(before.original)),
                         json(QJsonValue(before.modified)), json(QJsonValue(before.changes)));
        };

        const bool changed = set.apply(m);
        QVERIFY2(m.key == expectedKey,
                 qPrintable(context(
                         QStringLiteral("key %1, expected %2").arg(m.key, expectedKey))));
        for (const auto &[name, was, now] :
             { std::tuple(QStringLiteral("original"), &before.original, &m.original),
               std::tuple(QStringLiteral("modified"), &before.modified, &m.modified),
               std::tuple(QStringLiteral("changes"), &before.changes, &m.changes) }) {
            const QString problem = checkRemapped(QJsonValue(*was), QJsonValue(*now), model, name);
            QVERIFY2(problem.isEmpty(), qPrintable(context(problem)));
        }
        MutationRecord expected = before;
        expected.key = m.key;
        expected.original = m.original;
        expected.modified = m.modified;
        expected.changes = m.changes;
        QVERIFY2(differences(m, expected).isEmpty(),
                 qPrintable(context(QStringLiteral("changed: ") + differences(m, expected))));
        QVERIFY2(changed == !differences(m, before).isEmpty(),
                 qPrintable(context(QStringLiteral("apply() returned %1").arg(changed))));

        MutationRecord again = before;
        KeyChanges(model.given).apply(again);
        QVERIFY2(differences(again, m).isEmpty(),
                 qPrintable(context(QStringLiteral("not deterministic: ")
                                    + differences(again, m))));
        MutationRecord twice = m;
        QVERIFY2(!set.apply(twice) && differences(twice, m).isEmpty(),
                 qPrintable(context(QStringLiteral("applied twice: ") + differences(twice, m))));

        // The same item in a conflict record.
        ConflictRecord c;
        c.id = m.id;
        c.transactionId = m.transactionId;
        c.collection = collection;
        c.key = key;
        c.serverVersion = 3;
        if (random.bounded(4) != 0)
            c.local = randomObject(random, model);
        if (random.bounded(4) != 0)
            c.server = randomObject(random, model);
        if (random.bounded(2) != 0)
            c.base = randomObject(random, model);
        const ConflictRecord conflictBefore = c;
        const bool conflictChanged = set.apply(c);
        QVERIFY2(c.key == expectedKey,
                 qPrintable(context(QStringLiteral("conflict key ") + c.key)));
        for (const auto &[name, was, now] :
             { std::tuple(QStringLiteral("local"), &conflictBefore.local, &c.local),
               std::tuple(QStringLiteral("server"), &conflictBefore.server, &c.server),
               std::tuple(QStringLiteral("base"), &conflictBefore.base, &c.base) }) {
            const QString problem = checkRemapped(*was, *now, model, name);
            QVERIFY2(problem.isEmpty(), qPrintable(context(problem)));
        }
        ConflictRecord expectedConflict = conflictBefore;
        expectedConflict.key = c.key;
        expectedConflict.local = c.local;
        expectedConflict.server = c.server;
        expectedConflict.base = c.base;
        QVERIFY2(differences(c, expectedConflict).isEmpty(),
                 qPrintable(context(QStringLiteral("conflict changed: ")
                                    + differences(c, expectedConflict))));
        QVERIFY2(conflictChanged == !differences(c, conflictBefore).isEmpty(),
                 qPrintable(context(QStringLiteral("apply(conflict) returned %1")
                                            .arg(conflictChanged))));
        ConflictRecord conflictTwice = c;
        QVERIFY2(!set.apply(conflictTwice) && differences(conflictTwice, c).isEmpty(),
                 qPrintable(context(QStringLiteral("conflict applied twice"))));
    }
    QVERIFY2(keysRemapped > PropertySeed::Cases / 20, qPrintable(QString::number(keysRemapped)));
}

void tst_Remapping::generatedRows_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("500 rows from seed 3") << 3u;
    QTest::newRow("500 rows from seed 4096") << 4096u;
}

void tst_Remapping::generatedRows()
{
    QFETCH(quint32, seed);
    seed = PropertySeed::seed(seed);
    const QList<Relation> graph = relations(QString::fromLatin1(GraphText));
    const QString rowCollections[] = { QStringLiteral("todos"), QStringLiteral("projects"),
                                       QStringLiteral("users"), QStringLiteral("notes") };
    const QStringList fields { QStringLiteral("id"), QStringLiteral("key"),
                               QStringLiteral("projectId"), QStringLiteral("ownerId"),
                               QStringLiteral("parentId"), QStringLiteral("todoId"),
                               QStringLiteral("title") };
    const QStringList keyFields { QStringLiteral("id"), QStringLiteral("key"), QString() };
    int rewritten = 0;
    int spared = 0; // a client key in a field that must not be rewritten
    for (int i = 0; i < PropertySeed::Cases; ++i) {
        QRandomGenerator random = PropertySeed::generator(seed, i);
        const KeyModel model = randomKeyChanges(random);
        const KeyChanges set(model.given);
        const QString collection = rowCollections[random.bounded(4)];
        const QString keyField = pick(random, keyFields);
        const auto targetOf = [&](const QString &field) {
            for (const Relation &r : graph) {
                if (r.collection == collection && r.field == field)
                    return r.target;
            }
            return QString();
        };
        QJsonObject row;
        for (const QString &field : fields) {
            switch (random.bounded(7)) {
            case 0:
                break; // absent
            case 1:
                row.insert(field, QJsonValue::Null);
                break;
            case 2:
                row.insert(field, model.numericKeys.isEmpty() || random.bounded(2)
                                   ? QJsonValue(int(random.bounded(1, 1000)))
                                   : QJsonValue(pick(random, model.numericKeys).toInt()));
                break;
            case 3:
                row.insert(field, randomValue(random, model, 1));
                break;
            case 4:
            case 5: {
                // A client key given for the collection the field points to, if any.
                const QString target = field == keyField ? collection : targetOf(field);
                QStringList keys;
                for (const KeyChange &c : std::as_const(model.given)) {
                    if (c.collection == target && !c.clientKey.isEmpty())
                        keys.append(c.clientKey);
                }
                row.insert(field, keys.isEmpty() ? randomString(random, model)
                                                 : pick(random, keys));
                break;
            }
            default:
                row.insert(field, randomString(random, model));
                break;
            }
        }
        // Where each field points: the row's own collection for its key field, a relation's
        // target for a relation field of the row's collection, nowhere otherwise.
        QJsonObject expected = row;
        for (const QString &field : fields) {
            if (!row.contains(field))
                continue;
            const QString target = field == keyField ? collection : targetOf(field);
            const QJsonValue v = row.value(field);
            QString ref;
            if (v.isString())
                ref = v.toString();
            else if (v.isDouble() && v.toDouble() == std::trunc(v.toDouble()))
                ref = QString::number(qint64(v.toDouble()));
            const QString server = model.byItem.value(itemId(target, ref));
            if (!target.isEmpty() && !ref.isEmpty() && !server.isEmpty()) {
                expected.insert(field, server);
                ++rewritten;
            } else if (model.byKey.contains(ref)) {
                ++spared;
            }
        }

        const auto context = [&](const QString &what) {
            return QStringLiteral("%1: %2\n  changes: %3\n  %4 row (key field \"%5\"): %6")
                    .arg(PropertySeed::context(seed, i), what, describe(model.given), collection,
                         keyField, json(QJsonValue(row)));
        };
        QJsonObject r = row;
        const bool changed = set.applyToRow(collection, keyField, r, graph);
        QVERIFY2(r == expected,
                 qPrintable(context(QStringLiteral("got %1, expected %2")
                                            .arg(json(QJsonValue(r)),
                                                 json(QJsonValue(expected))))));
        QVERIFY2(changed == (r != row),
                 qPrintable(context(QStringLiteral("applyToRow() returned %1").arg(changed))));
        QJsonObject again = row;
        KeyChanges(model.given).applyToRow(collection, keyField, again, graph);
        QVERIFY2(again == r, qPrintable(context(QStringLiteral("not deterministic"))));
        QJsonObject twice = r;
        QVERIFY2(!set.applyToRow(collection, keyField, twice, graph) && twice == r,
                 qPrintable(context(QStringLiteral("applied twice: %1")
                                            .arg(json(QJsonValue(twice))))));
    }
    QVERIFY2(rewritten > PropertySeed::Cases / 5, qPrintable(QString::number(rewritten)));
    QVERIFY2(spared > PropertySeed::Cases / 5, qPrintable(QString::number(spared)));
}

QTEST_APPLESS_MAIN(tst_Remapping)
#include "tst_remapping.moc"
