/** The names of a Label Studio project's classification control, read from its label config. */
import { expect } from 'chai';
import { choiceFor, choicesControl } from '../../../../src/frontends/label-studio/label-config.js';

describe('Label Studio label config', () => {
  it('reads the image classification template: choice → image, data key image, the choices in order', () => {
    const config = `<View>
      <Image name="image" value="$image"/>
      <Choices name="choice" toName="image">
        <Choice value="Cat"/>
        <Choice value="Dog"/>
        <Choice value="Other"/>
      </Choices>
    </View>`;
    expect(choicesControl(config)).to.deep.equal({ fromName: 'choice', toName: 'image', dataKey: 'image', choices: ['Cat', 'Dog', 'Other'] });
  });

  it('takes the Choices that names an Image, whatever comes first, comments and other tags aside', () => {
    const config = `<View>
      <!-- <Choices name="old" toName="photo"><Choice value="x"/></Choices> -->
      <Text name="caption" value="$text"/>
      <Choices name="mood" toName="caption"><Choice value="happy"/></Choices>
      <Image name='photo' value='$img' zoom="true"></Image>
      <Choices name="animal &amp; more" toName="caption,photo" choice="single-radio">
        <Choice value="Cat &#38; kitten"/><Choice value='Dog'/>
      </Choices>
    </View>`;
    expect(choicesControl(config)).to.deep.equal({ fromName: 'animal & more', toName: 'photo', dataKey: 'img', choices: ['Cat & kitten', 'Dog'] });
  });

  it('has none without an Image taken from the task data, or without Choices naming it', () => {
    expect(choicesControl('<View></View>')).to.equal(undefined);
    expect(choicesControl('<View><Image name="i" value="https://x/y.png"/><Choices name="c" toName="i"/></View>')).to.equal(undefined);
    expect(choicesControl('<View><Image name="i" value="$image"/><Choices name="c" toName="j"/></View>')).to.equal(undefined);
  });

  it('spells a label as the project does, case aside; keeps the model\'s label when the project has no such choice', () => {
    const control = { fromName: 'c', toName: 'i', dataKey: 'image', choices: ['cat', 'DOG'] };
    expect(choiceFor(control, 'Cat')).to.equal('cat');
    expect(choiceFor(control, 'Dog')).to.equal('DOG');
    expect(choiceFor(control, 'Other')).to.equal('Other');
  });
});
