// The button that goes with an error: the fix itself, one click away (describe-problem.ts picks it).
import { Button } from '@create-figma-plugin/ui';
import { h } from 'preact';
import { FIX_LABEL, type ProblemFix } from '../describe-problem.ts';

export function FixButton(props: { fix: ProblemFix; onFix(fix: ProblemFix): void; label?: string; testId?: string }) {
  return (
    <Button secondary onClick={() => props.onFix(props.fix)} data-testid={props.testId ?? `fix-${props.fix}`} data-fix={props.fix}>
      {props.label ?? FIX_LABEL[props.fix]}
    </Button>
  );
}
