// SPDX-License-Identifier: BSD-3-Clause
#include <synq/overlay.h>
#include <synq/pushrules.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtTest/QTest>

#include "testprinters.h"

#include <optional>

// (std::optional of a Qt type: found through the Qt type.)
char *toString(const std::optional<QJsonObject> &state)
{
    return state ? toString(*state) : QTest::toString("(not visible)");
}

using namespace Synq;

using State = std::optional<QJsonObject>;
using Mutations = QList<MutationRecord>;

Q_DECLARE_METATYPE(Synq::MutationRecord)
Q_DECLARE_METATYPE(State)

namespace {

const State Gone = std::nullopt;

MutationRecord insertOf(const QJsonObject &row)
{
    MutationRecord m;
    m.type = MutationType::Insert;
    m.key = QStringLiteral("k1");
    m.modified = row;
    m.changes = row;
    return m;
}

MutationRecord updateOf(const QJsonObject &changes)
{
    MutationRecord m;
    m.type = MutationType::Update;
    m.key = QStringLiteral("k1");
    m.changes = changes;
    return m;
}

MutationRecord removeOf()
{
    MutationRecord m;
    m.type = MutationType::Remove;
    m.key = QStringLiteral("k1");
    return m;
}

QJsonObject todo(const QString &title, bool done)
{
    return { { QStringLiteral("title"), title }, { QStringLiteral("done"), done } };
}

} // namespace

class tst_Overlay : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void apply_data();
    void apply();
    void visibleState_data();
    void visibleState();
    void visibleStateMatchesStepwiseApply_data();
    void visibleStateMatchesStepwiseApply();
    void changedFields_data();
    void changedFields();
};

void tst_Overlay::apply_data()
{
    QTest::addColumn<State>("visible");
    QTest::addColumn<MutationRecord>("mutation");
    QTest::addColumn<State>("expected");

    const QJsonObject milk = todo(QStringLiteral("Milk"), false);
    const QJsonObject bread = todo(QStringLiteral("Bread"), false);

    QTest::newRow("an insert makes a missing row visible")
            << Gone << insertOf(milk) << State(milk);
    QTest::newRow("an insert replaces whatever was visible")
            << State(bread) << insertOf(milk) << State(milk);
    QTest::newRow("an insert of an empty object shows an empty row")
            << Gone << insertOf(QJsonObject()) << State(QJsonObject());
    QTest::newRow("an update sets the changed fields and keeps the others")
            << State(milk) << updateOf({ { QStringLiteral("done"), true } })
            << State(todo(QStringLiteral("Milk"), true));
    QTest::newRow("an update with no changes leaves the row as it was")
            << State(milk) << updateOf(QJsonObject()) << State(milk);
    QTest::newRow("an update with null sets the field to null")
            << State(milk) << updateOf({ { QStringLiteral("title"), QJsonValue::Null } })
            << State(QJsonObject{ { QStringLiteral("title"), QJsonValue::Null },
                                  { QStringLiteral("done"), false } });
    QTest::newRow("an update of a missing row stays missing")
            << Gone << updateOf({ { QStringLiteral("done"), true } }) << Gone;
    QTest::newRow("an update uses changes, not the modified snapshot")
            << State(milk)
            << [] {
                   MutationRecord m = updateOf({ { QStringLiteral("done"), true } });
                   m.modified = todo(QStringLiteral("Stale"), false);
                   return m;
               }()
            << State(todo(QStringLiteral("Milk"), true));
    QTest::newRow("a remove hides a visible row") << State(milk) << removeOf() << Gone;
    QTest::newRow("a remove of a missing row stays missing") << Gone << removeOf() << Gone;
    QTest::newRow("a remove hides an empty row") << State(QJsonObject()) << removeOf() << Gone;
}

void tst_Overlay::apply()
{
    QFETCH(State, visible);
    QFETCH(MutationRecord, mutation);
    QFETCH(State, expected);

    QCOMPARE(Overlay::apply(visible, mutation), expected);
}

void tst_Overlay::visibleState_data()
{
    QTest::addColumn<State>("synced");
    QTest::addColumn<Mutations>("pending");
    QTest::addColumn<State>("expected");

    const QJsonObject milk = todo(QStringLiteral("Milk"), false);
    const QJsonObject done = { { QStringLiteral("done"), true } };
    const QJsonObject rename = { { QStringLiteral("title"), QStringLiteral("Oat milk") } };

    QTest::newRow("no pending mutations show the synced row")
            << State(milk) << Mutations() << State(milk);
    QTest::newRow("no synced row and no mutations show nothing")
            << Gone << Mutations() << Gone;
    QTest::newRow("a pending insert shows the new row")
            << Gone << Mutations{ insertOf(milk) } << State(milk);
    QTest::newRow("insert then update shows the updated row")
            << Gone << Mutations{ insertOf(milk), updateOf(done) }
            << State(todo(QStringLiteral("Milk"), true));
    QTest::newRow("insert then remove shows nothing")
            << Gone << Mutations{ insertOf(milk), removeOf() } << Gone;
    QTest::newRow("an update of a synced row shows the change")
            << State(milk) << Mutations{ updateOf(done) }
            << State(todo(QStringLiteral("Milk"), true));
    QTest::newRow("two updates apply in order and the later one wins")
            << State(milk)
            << Mutations{ updateOf(rename),
                          updateOf({ { QStringLiteral("title"), QStringLiteral("Soy milk") } }) }
            << State(todo(QStringLiteral("Soy milk"), false));
    QTest::newRow("two updates of different fields both show")
            << State(milk) << Mutations{ updateOf(rename), updateOf(done) }
            << State(todo(QStringLiteral("Oat milk"), true));
    QTest::newRow("a removed synced row is gone")
            << State(milk) << Mutations{ removeOf() } << Gone;
    QTest::newRow("an update after a remove stays gone")
            << State(milk) << Mutations{ removeOf(), updateOf(done) } << Gone;
    QTest::newRow("several updates after a remove stay gone")
            << State(milk) << Mutations{ removeOf(), updateOf(done), updateOf(rename) } << Gone;
    QTest::newRow("an update of a row that was never synced stays gone")
            << Gone << Mutations{ updateOf(done) } << Gone;
    QTest::newRow("remove then insert shows the re-inserted row")
            << State(milk) << Mutations{ removeOf(), insertOf(todo(QStringLiteral("Tea"), true)) }
            << State(todo(QStringLiteral("Tea"), true));
    QTest::newRow("remove, insert, update shows the updated re-inserted row")
            << State(milk)
            << Mutations{ removeOf(), insertOf(todo(QStringLiteral("Tea"), false)), updateOf(done) }
            << State(todo(QStringLiteral("Tea"), true));
    QTest::newRow("update, remove, update stays gone")
            << State(milk) << Mutations{ updateOf(rename), removeOf(), updateOf(done) } << Gone;
    QTest::newRow("an update to null after an insert shows the null")
            << Gone
            << Mutations{ insertOf(milk), updateOf({ { QStringLiteral("title"),
                                                        QJsonValue::Null } }) }
            << State(QJsonObject{ { QStringLiteral("title"), QJsonValue::Null },
                                  { QStringLiteral("done"), false } });
    QTest::newRow("nested objects are replaced by each update in turn")
            << State(QJsonObject{ { QStringLiteral("meta"),
                                    QJsonObject{ { QStringLiteral("a"), 1 },
                                                 { QStringLiteral("b"), 2 } } } })
            << Mutations{ updateOf({ { QStringLiteral("meta"),
                                       QJsonObject{ { QStringLiteral("a"), 10 } } } }),
                          updateOf({ { QStringLiteral("meta"),
                                       QJsonObject{ { QStringLiteral("c"),
                                                      QJsonArray{ 1 } } } } }) }
            << State(QJsonObject{ { QStringLiteral("meta"),
                                    QJsonObject{ { QStringLiteral("c"), QJsonArray{ 1 } } } } });
}

void tst_Overlay::visibleState()
{
    QFETCH(State, synced);
    QFETCH(Mutations, pending);
    QFETCH(State, expected);

    QCOMPARE(Overlay::visibleState(synced, pending), expected);
}

void tst_Overlay::visibleStateMatchesStepwiseApply_data()
{
    visibleState_data();
}

void tst_Overlay::visibleStateMatchesStepwiseApply()
{
    QFETCH(State, synced);
    QFETCH(Mutations, pending);

    // Folding is the same as applying one by one, and every prefix is consistent.
    State state = synced;
    for (qsizetype i = 0; i < pending.size(); ++i) {
        state = Overlay::apply(state, pending.at(i));
        QCOMPARE(Overlay::visibleState(synced, pending.mid(0, i + 1)), state);
    }
    QCOMPARE(Overlay::visibleState(synced, pending), state);
}

void tst_Overlay::changedFields_data()
{
    QTest::addColumn<QJsonObject>("before");
    QTest::addColumn<QJsonObject>("after");
    QTest::addColumn<QStringList>("expected");

    const QJsonObject milk = todo(QStringLiteral("Milk"), false);

    QTest::newRow("two empty objects have no changed fields")
            << QJsonObject() << QJsonObject() << QStringList();
    QTest::newRow("identical objects have no changed fields") << milk << milk << QStringList();
    QTest::newRow("every field of a new object is added")
            << QJsonObject() << milk
            << QStringList{ QStringLiteral("done"), QStringLiteral("title") };
    QTest::newRow("every field of a cleared object is removed")
            << milk << QJsonObject()
            << QStringList{ QStringLiteral("done"), QStringLiteral("title") };
    QTest::newRow("a changed value is reported and the unchanged one is not")
            << milk << todo(QStringLiteral("Milk"), true) << QStringList{ QStringLiteral("done") };
    QTest::newRow("an added field is reported")
            << milk
            << QJsonObject{ { QStringLiteral("title"), QStringLiteral("Milk") },
                            { QStringLiteral("done"), false },
                            { QStringLiteral("tag"), QStringLiteral("x") } }
            << QStringList{ QStringLiteral("tag") };
    QTest::newRow("a removed field is reported")
            << milk << QJsonObject{ { QStringLiteral("done"), false } }
            << QStringList{ QStringLiteral("title") };
    QTest::newRow("added, removed and changed fields come out sorted")
            << QJsonObject{ { QStringLiteral("b"), 1 }, { QStringLiteral("c"), 1 },
                            { QStringLiteral("e"), 1 } }
            << QJsonObject{ { QStringLiteral("a"), 1 }, { QStringLiteral("c"), 2 },
                            { QStringLiteral("d"), 1 }, { QStringLiteral("e"), 1 } }
            << QStringList{ QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c"),
                            QStringLiteral("d") };
    QTest::newRow("fields only on one side at both ends are reported")
            << QJsonObject{ { QStringLiteral("a"), 1 }, { QStringLiteral("m"), 1 } }
            << QJsonObject{ { QStringLiteral("m"), 1 }, { QStringLiteral("z"), 1 } }
            << QStringList{ QStringLiteral("a"), QStringLiteral("z") };
    QTest::newRow("disjoint objects report every field")
            << QJsonObject{ { QStringLiteral("a"), 1 }, { QStringLiteral("c"), 1 } }
            << QJsonObject{ { QStringLiteral("b"), 1 }, { QStringLiteral("d"), 1 } }
            << QStringList{ QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c"),
                            QStringLiteral("d") };
    QTest::newRow("a value set to null is changed")
            << milk
            << QJsonObject{ { QStringLiteral("title"), QJsonValue::Null },
                            { QStringLiteral("done"), false } }
            << QStringList{ QStringLiteral("title") };
    QTest::newRow("a missing field that becomes null is added")
            << QJsonObject() << QJsonObject{ { QStringLiteral("due"), QJsonValue::Null } }
            << QStringList{ QStringLiteral("due") };
    QTest::newRow("a null field that disappears is removed")
            << QJsonObject{ { QStringLiteral("due"), QJsonValue::Null } } << QJsonObject()
            << QStringList{ QStringLiteral("due") };
    QTest::newRow("null to null is unchanged")
            << QJsonObject{ { QStringLiteral("due"), QJsonValue::Null } }
            << QJsonObject{ { QStringLiteral("due"), QJsonValue::Null } } << QStringList();
    QTest::newRow("an integer and an equal double are unchanged")
            << QJsonObject{ { QStringLiteral("n"), 1 } } << QJsonObject{ { QStringLiteral("n"), 1.0 } }
            << QStringList();
    QTest::newRow("a number and the same digits as a string are changed")
            << QJsonObject{ { QStringLiteral("n"), 1 } }
            << QJsonObject{ { QStringLiteral("n"), QStringLiteral("1") } }
            << QStringList{ QStringLiteral("n") };
    QTest::newRow("false and null are changed")
            << QJsonObject{ { QStringLiteral("f"), false } }
            << QJsonObject{ { QStringLiteral("f"), QJsonValue::Null } }
            << QStringList{ QStringLiteral("f") };
    QTest::newRow("a change deep inside a nested object changes the top field")
            << QJsonObject{ { QStringLiteral("meta"),
                              QJsonObject{ { QStringLiteral("a"),
                                             QJsonObject{ { QStringLiteral("b"), 1 } } } } },
                            { QStringLiteral("x"), 1 } }
            << QJsonObject{ { QStringLiteral("meta"),
                              QJsonObject{ { QStringLiteral("a"),
                                             QJsonObject{ { QStringLiteral("b"), 2 } } } } },
                            { QStringLiteral("x"), 1 } }
            << QStringList{ QStringLiteral("meta") };
    QTest::newRow("equal nested objects are unchanged")
            << QJsonObject{ { QStringLiteral("meta"), QJsonObject{ { QStringLiteral("a"), 1 } } } }
            << QJsonObject{ { QStringLiteral("meta"), QJsonObject{ { QStringLiteral("a"), 1 } } } }
            << QStringList();
    QTest::newRow("reordered array elements are changed")
            << QJsonObject{ { QStringLiteral("tags"), QJsonArray{ 1, 2 } } }
            << QJsonObject{ { QStringLiteral("tags"), QJsonArray{ 2, 1 } } }
            << QStringList{ QStringLiteral("tags") };
    QTest::newRow("capital letters sort before small letters")
            << QJsonObject{ { QStringLiteral("b"), 1 }, { QStringLiteral("B"), 1 } }
            << QJsonObject{ { QStringLiteral("a"), 1 }, { QStringLiteral("A"), 1 } }
            << QStringList{ QStringLiteral("A"), QStringLiteral("B"), QStringLiteral("a"),
                            QStringLiteral("b") };
    QTest::newRow("non-ASCII field names come out sorted")
            << QJsonObject{ { QStringLiteral(u"！"), 1 }, { QStringLiteral(u"é"), 1 } }
            << QJsonObject{ { QStringLiteral(u"😀"), 1 }, { QStringLiteral("z"), 1 } }
            << QStringList{ QStringLiteral("z"), QStringLiteral(u"é"), QStringLiteral(u"😀"),
                            QStringLiteral(u"！") };
    QTest::newRow("a field that is a prefix of another is told apart")
            << QJsonObject{ { QStringLiteral("a"), 1 }, { QStringLiteral("ab"), 1 } }
            << QJsonObject{ { QStringLiteral("ab"), 1 }, { QStringLiteral("abc"), 1 } }
            << QStringList{ QStringLiteral("a"), QStringLiteral("abc") };
}

void tst_Overlay::changedFields()
{
    QFETCH(QJsonObject, before);
    QFETCH(QJsonObject, after);
    QFETCH(QStringList, expected);

    const QStringList fields = Overlay::changedFields(before, after);
    QCOMPARE(fields, expected);

    // Sorted, without duplicates, and the same in both directions.
    QStringList sorted = fields;
    sorted.sort();
    sorted.removeDuplicates();
    QCOMPARE(fields, sorted);
    QCOMPARE(Overlay::changedFields(after, before), expected);

    // Applying the changed fields of `after` (nulls for removed ones aside) to `before`
    // leaves nothing else changed.
    QJsonObject patch;
    for (const QString &field : fields) {
        if (after.contains(field))
            patch.insert(field, after.value(field));
    }
    const QJsonObject patched = PushRules::applyChanges(before, patch);
    for (const QString &field : Overlay::changedFields(patched, after))
        QVERIFY2(!after.contains(field) && before.contains(field), qPrintable(field));
}

QTEST_GUILESS_MAIN(tst_Overlay)
#include "tst_overlay.moc"
